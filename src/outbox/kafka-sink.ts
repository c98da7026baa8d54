import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from '../log.js';

export class LeadershipLostError extends Error {
  constructor(reason: string) {
    super(`leadership lost before commit: ${reason}`);
    this.name = 'LeadershipLostError';
  }
}

/** Kafka errors that no retry will cure for this message (e.g. too large); the row must be set aside. */
const PERMANENT_KAFKA_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
  'INVALID_TIMESTAMP',
]);

export function isPermanentKafkaError(error: unknown): boolean {
  const type = (error as { type?: string } | undefined)?.type;
  return type !== undefined && PERMANENT_KAFKA_ERRORS.has(type);
}

export interface SinkOptions {
  kafka: Kafka;
  /** the Kafka topic to write to */
  topic: string;
  /** one per topic: a new leader's producer fences every older one with the same id */
  transactionalId: string;
  log: Logger;
  /** upper bound of one produce request's payload; larger batches are split, in order */
  maxRequestBytes: number;
}

/**
 * Sends each batch as one Kafka transaction from a producer whose transactional id is the topic's.
 * When a new leader's producer initialises that id, Kafka bumps the epoch and rejects any later
 * send or commit from the old one (fencing), so two publishers can never both commit — even a
 * leader that has not yet noticed it lost its lock. Transactional producers are idempotent and
 * write with acks=all. Consumers read with isolation read_committed (kafkajs' default) and never
 * see an aborted attempt.
 */
/**
 * Transactional ids per topic, used in turn. After a commit, Kafka answers the next transaction
 * on the same id with CONCURRENT_TRANSACTIONS until the commit markers are written; alternating
 * ids lets the next batch start at once. Order is unaffected: a batch is sent only after the
 * previous one committed, so its offsets come after it in every partition.
 */
const PRODUCERS_PER_TOPIC = 3;

export class TransactionalSink {
  private producers: Producer[] = [];
  private turn = 0;

  constructor(private readonly options: SinkOptions) {}

  /** Connects and initialises the transactional ids, fencing any previous leader's producers. */
  async open(): Promise<void> {
    for (let slot = 0; slot < PRODUCERS_PER_TOPIC; slot++) {
      const producer = this.options.kafka.producer({
        // Java-compatible murmur2 partitioning: a key lands on the same partition as from any Kafka client.
        createPartitioner: Partitioners.DefaultPartitioner,
        transactionalId: `${this.options.transactionalId}.${slot}`,
        // kafkajs' `idempotent` flag governs sends outside transactions; transactions always are.
        idempotent: false,
        maxInFlightRequests: 1,
        transactionTimeout: 30_000,
        allowAutoTopicCreation: false,
        // Short, slowly growing retries: a coordinator still writing markers answers within a few
        // ms, and kafkajs' default first wait (300 ms) would become our latency. Bounded: our loop
        // owns the long backoff, so it notices lost leadership or a shutdown.
        retry: { retries: 40, initialRetryTime: 5, multiplier: 1.2, factor: 0.1, maxRetryTime: 2_000 },
      });
      this.producers.push(producer);
      await producer.connect();
      const fence = await producer.transaction();
      await fence.abort();
    }
  }

  /** Sends `messages` in order as one transaction; commits only if `signal` is still live. */
  async publish(messages: Message[], signal: AbortSignal): Promise<void> {
    const producer = this.producers[this.turn++ % PRODUCERS_PER_TOPIC];
    if (!producer) throw new Error('sink is not open');
    const transaction = await producer.transaction();
    try {
      for (const chunk of chunksBySize(messages, this.options.maxRequestBytes)) {
        if (signal.aborted) throw new LeadershipLostError(String((signal.reason as Error | undefined)?.message ?? 'aborted'));
        await transaction.send({ topic: this.options.topic, messages: chunk, acks: -1 });
      }
      if (signal.aborted) throw new LeadershipLostError(String((signal.reason as Error | undefined)?.message ?? 'aborted'));
      await transaction.commit();
    } catch (error) {
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    const producers = this.producers;
    this.producers = [];
    await Promise.all(
      producers.map((producer) =>
        producer.disconnect().catch((error: unknown) => this.options.log.debug({ err: error }, 'producer disconnect failed')),
      ),
    );
  }
}

export function messageBytes(message: Message): number {
  let size = 64 + (message.key ? Buffer.byteLength(message.key as string) : 0) + (message.value ? Buffer.byteLength(message.value as string) : 0);
  for (const [name, value] of Object.entries(message.headers ?? {})) size += 8 + Buffer.byteLength(name) + Buffer.byteLength(String(value));
  return size;
}

/** Consecutive slices of at most `maxBytes` each (a single larger message forms its own slice). */
export function chunksBySize(messages: Message[], maxBytes: number): Message[][] {
  const chunks: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
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
