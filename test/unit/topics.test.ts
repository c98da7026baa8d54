import { describe, expect, it } from 'vitest';
import { Topics } from '../../src/contracts.js';
import { CONSUMED_TOPICS, fittingReplicationFactor, plannedTopics } from '../../src/kafka/topics.js';

describe('planned topics', () => {
  it('has the seed topics, the added ones, and retry and dead-letter topics for each consumed topic', () => {
    const topics = plannedTopics({ partitions: 6, replicationFactor: 1 });
    const names = topics.map((t) => t.name);
    for (const name of [
      'orders.placed',
      'payments.completed',
      'payments.failed',
      'orders.cancelled',
      'payments.refunded',
      'checkout.requested',
      'payments.checkout_session_created',
    ]) {
      expect(names).toContain(name);
    }
    for (const consumed of CONSUMED_TOPICS) {
      expect(names).toEqual(
        expect.arrayContaining([`${consumed}.retry.1`, `${consumed}.retry.2`, `${consumed}.retry.3`, `${consumed}.dlq`]),
      );
    }
    // The history handler reads the outcome events; what only a browser reads has no retries.
    expect(names).toContain(`${Topics.paymentsCompleted}.dlq`);
    expect(names).not.toContain(`${Topics.checkoutSessionCreated}.dlq`);
    expect(new Set(names).size).toBe(names.length);
    expect(topics.find((t) => t.name === 'orders.placed.dlq')!.configs['retention.ms']).toBe('-1');
  });

  it('asks for two in-sync replicas once there are three', () => {
    expect(plannedTopics({ partitions: 1, replicationFactor: 3 })[0]!.configs['min.insync.replicas']).toBe('2');
    expect(plannedTopics({ partitions: 1, replicationFactor: 1 })[0]!.configs['min.insync.replicas']).toBeUndefined();
  });

  it('fits the replication factor to the cluster', () => {
    expect(fittingReplicationFactor(1)).toBe(1);
    expect(fittingReplicationFactor(2)).toBe(2);
    expect(fittingReplicationFactor(5)).toBe(3);
    expect(fittingReplicationFactor(5, 2)).toBe(2);
  });

  it('honours prefix and retry levels', () => {
    const names = plannedTopics({ prefix: 'staging.', partitions: 1, replicationFactor: 1, retryLevels: 1 }).map((t) => t.name);
    expect(names).toContain('staging.orders.placed.retry.1');
    expect(names).not.toContain('staging.orders.placed.retry.2');
    expect(names.every((n) => n.startsWith('staging.'))).toBe(true);
  });
});
