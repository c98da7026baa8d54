import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from '../log.js';

export class LeadershipLostError extends Error {
  constructor(reason: string) {
    super(`leadership lost before the batch was sent: ${reason}`);
    this.name = 'LeadershipLostError';
  }
}

/**
 * Kafka errors that no retry will cure for this record (e.g. too large): the row is set aside.
 * Only errors about the record itself: anything else (clock skew, configuration, corruption in
 * transit) is retried and alerted on rather than setting healthy rows aside.
 */
const PERMANENT_KAFKA_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

/** Kafka error codes (e.g. MESSAGE_TOO_LARGE) in an error and what it wraps: kafkajs nests them in `cause` after retries. */
export function kafkaErrorTypes(error: unknown, depth = 0): string[] {
  if (!error || typeof error !== 'object' || depth > 5) return [];
  const { type, cause, errors } = error as { type?: unknown; cause?: unknown; errors?: unknown };
  return [
    ...(typeof type === 'string' ? [type] : []),
    ...kafkaErrorTypes(cause, depth + 1),
    ...(Array.isArray(errors) ? errors.flatMap((inner) => kafkaErrorTypes(inner, depth + 1)) : []),
  ];
}

export function isPermanentKafkaError(error: unknown): boolean {
  return kafkaErrorTypes(error).some((type) => PERMANENT_KAFKA_ERRORS.has(type));
}

export interface SinkOptions {
  kafka: Kafka;
  /** the Kafka topic to write to */
  topic: string;
  log: Logger;
  /** upper bound of one produce request's payload; larger batches are split, in order */
  maxRequestBytes: number;
}

/**
 * One idempotent producer (acks from all in-sync replicas, one request in flight, so a retried
 * request can neither be written twice nor overtake the next). A batch is sent as consecutive
 * requests, each only after the previous one was acknowledged, so a key's events keep their order.
 */
export class KafkaSink {
  private producer: Producer | undefined;

  constructor(private readonly options: SinkOptions) {}

  async open(): Promise<void> {
    const producer = this.options.kafka.producer({
      // Java-compatible murmur2 partitioning: a key lands on the same partition as from any Kafka client.
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Bounded, unlike kafkajs' default for idempotent producers: our loop owns the long backoff,
      // so it notices lost leadership or a shutdown, and it resends from the database with a new
      // producer, so nothing is lost (a retried batch may arrive twice; consumers dedupe by ce_id).
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.producer = producer;
    await producer.connect();
  }

  /** Sends `messages` in order; stops before the next request once `signal` is aborted. Returns the number of requests. */
  async publish(messages: Message[], signal: AbortSignal, sizes?: readonly number[]): Promise<number> {
    const producer = this.producer;
    if (!producer) throw new Error('sink is not open');
    const chunks = chunksBySize(messages, this.options.maxRequestBytes, sizes);
    for (const chunk of chunks) {
      if (signal.aborted) throw new LeadershipLostError(String((signal.reason as Error | undefined)?.message ?? 'aborted'));
      await producer.send({ topic: this.options.topic, messages: chunk, acks: -1 });
    }
    return chunks.length;
  }

  /** A new producer, hence a new producer id and fresh sequence numbers. */
  async reopen(): Promise<void> {
    await this.close();
    await this.open();
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch((error: unknown) => this.options.log.debug({ err: error }, 'producer disconnect failed'));
  }
}

export function messageBytes(message: Message): number {
  let size =
    64 + (message.key ? Buffer.byteLength(message.key as string) : 0) + (message.value ? Buffer.byteLength(message.value as string) : 0);
  for (const [name, value] of Object.entries(message.headers ?? {})) size += 8 + Buffer.byteLength(name) + Buffer.byteLength(String(value));
  return size;
}

/**
 * Consecutive slices of at most `maxBytes` each (a single larger message forms its own slice).
 * `sizes`, when given, are the messages' `messageBytes`, already measured.
 */
export function chunksBySize(messages: Message[], maxBytes: number, sizes?: readonly number[]): Message[][] {
  if (sizes && sizes.reduce((sum, size) => sum + size, 0) <= maxBytes) return messages.length ? [messages] : [];
  const chunks: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const [index, message] of messages.entries()) {
    const size = sizes?.[index] ?? messageBytes(message);
    if (current.length && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}
