import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaMessage } from 'kafkajs';
import { createKafka } from '../../src/kafka/client.js';
import { waitForTopicLeaders } from '../../src/kafka/leaders.js';
import type { KafkaSecurity } from '../../src/kafka/security.js';

/** A topic prefix of its own per test, so tests share one broker without seeing each other's messages. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}.`;
}

export async function createTopics(brokers: string, topics: string[], partitions = 3, security?: KafkaSecurity): Promise<void> {
  const admin = createKafka({ brokers: brokers.split(','), security }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      waitForLeaders: false,
    });
    await waitForTopicLeaders(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

export interface ConsumedMessage {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

function decode(partition: number, message: KafkaMessage): ConsumedMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
  return { partition, offset: message.offset, key: String(message.key), value: String(message.value), headers };
}

/**
 * Reads a topic from the beginning (read_committed) until `done` says so or `timeoutMs` passes,
 * and returns every message in partition/offset order.
 */
export async function consumeUntil(
  brokers: string,
  topic: string,
  done: (messages: ConsumedMessage[]) => boolean,
  timeoutMs = 120_000,
  security?: KafkaSecurity,
): Promise<ConsumedMessage[]> {
  const kafka = createKafka({ brokers: brokers.split(','), security });
  const consumer = kafka.consumer({ groupId: `test-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 100 });
  const messages: ConsumedMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) messages.push(decode(batch.partition, message));
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (!done(messages)) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${topic}: ${messages.length} messages so far`);
      await sleep(100);
    }
  } finally {
    await consumer.disconnect();
  }
  return messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
