import { describe, expect, it } from 'vitest';
import { chunksBySize, isPermanentKafkaError, kafkaErrorTypes, messageBytes } from '../../src/outbox/kafka-sink.js';

describe('Kafka error classification', () => {
  it('finds the Kafka error code however deeply kafkajs wrapped it', () => {
    const protocol = Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' });
    const retriesExceeded = Object.assign(new Error('retries'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: protocol });
    const aggregate = Object.assign(new Error('agg'), { errors: [new Error('x'), retriesExceeded] });
    expect(kafkaErrorTypes(aggregate)).toEqual(['MESSAGE_TOO_LARGE']);
    expect(isPermanentKafkaError(aggregate)).toBe(true);
  });

  it('treats unreachable brokers and unknown topics as transient', () => {
    expect(isPermanentKafkaError(new Error('Connection error: connect ECONNREFUSED'))).toBe(false);
    expect(isPermanentKafkaError(Object.assign(new Error('no topic'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' }))).toBe(false);
    expect(isPermanentKafkaError(undefined)).toBe(false);
  });
});

describe('chunksBySize', () => {
  const message = (bytes: number) => ({ key: 'k', value: 'x'.repeat(bytes) });

  it('splits in order without exceeding the limit, and gives an oversized message a chunk of its own', () => {
    const messages = [message(400), message(400), message(400), message(5_000), message(100)];
    const chunks = chunksBySize(messages, 1_000);
    expect(chunks.flat()).toEqual(messages);
    expect(chunks.map((c) => c.length)).toEqual([2, 1, 1, 1]);
    for (const chunk of chunks.filter((c) => c.length > 1)) {
      expect(chunk.reduce((sum, m) => sum + messageBytes(m), 0)).toBeLessThanOrEqual(1_000);
    }
  });

  it('splits the same way with sizes measured beforehand, and keeps a batch that fits whole', () => {
    const messages = [message(400), message(400), message(400), message(5_000), message(100)];
    const sizes = messages.map(messageBytes);
    expect(chunksBySize(messages, 1_000, sizes)).toEqual(chunksBySize(messages, 1_000));
    expect(chunksBySize(messages.slice(0, 2), 1_000, sizes.slice(0, 2))).toEqual([messages.slice(0, 2)]);
    expect(chunksBySize([], 1_000, [])).toEqual([]);
  });
});
