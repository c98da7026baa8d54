import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TopicBacklog } from './store.js';

export type PublisherMetrics = ReturnType<typeof createPublisherMetrics>;

export function createPublisherMetrics(registry: Registry, readBacklog: () => Promise<TopicBacklog[]>) {
  // Read once per scrape, shared by the three gauges that come from it.
  let pending: Promise<TopicBacklog[]> | undefined;
  const sample = () => {
    // Bounded, so a hung database cannot hang /metrics (and with it a graceful shutdown).
    pending ??= Promise.race([
      readBacklog(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('backlog query timed out')), 2_000).unref()),
    ]).finally(() => setTimeout(() => (pending = undefined), 1000).unref());
    return pending;
  };
  const fromBacklog = (pick: (row: TopicBacklog) => number) =>
    async function collect(this: Gauge<'topic'>) {
      this.reset();
      try {
        for (const row of await sample()) this.set({ topic: row.topic }, pick(row));
      } catch {
        // The database is down: the gauges are left empty rather than stale; errors are logged elsewhere.
      }
    };
  return {
    backlog: new Gauge({
      name: 'paymentsctl_outbox_backlog',
      help: 'Unpublished outbox rows per topic',
      labelNames: ['topic'],
      registers: [registry],
      collect: fromBacklog((row) => row.unpublished),
    }),
    blocked: new Gauge({
      name: 'paymentsctl_outbox_rejected_rows',
      help: 'Unpublished rows Kafka rejected for good (last_error set); each holds back later events of its key',
      labelNames: ['topic'],
      registers: [registry],
      collect: fromBacklog((row) => row.blocked),
    }),
    oldestAge: new Gauge({
      name: 'paymentsctl_outbox_oldest_unpublished_seconds',
      help: 'Age of the oldest unpublished row per topic',
      labelNames: ['topic'],
      registers: [registry],
      collect: fromBacklog((row) => row.oldestSeconds),
    }),
    published: new Counter({
      name: 'paymentsctl_outbox_published_total',
      help: 'Rows published to Kafka and marked published',
      labelNames: ['topic'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'paymentsctl_outbox_rejected_total',
      help: 'Rows Kafka rejected for good and set aside for an operator',
      labelNames: ['topic'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'paymentsctl_outbox_publish_errors_total',
      help: 'Failed publish attempts (the rows stay unpublished and are retried)',
      labelNames: ['topic', 'kind'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'paymentsctl_outbox_publish_latency_seconds',
      help: "From the row's insert to Kafka acknowledging it",
      labelNames: ['topic'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'paymentsctl_outbox_leader',
      help: '1 while this replica is the active publisher of the topic',
      labelNames: ['topic'],
      registers: [registry],
    }),
    retentionDeleted: new Counter({
      name: 'paymentsctl_outbox_retention_deleted_total',
      help: 'Published rows deleted by the retention policy',
      registers: [registry],
    }),
  };
}
