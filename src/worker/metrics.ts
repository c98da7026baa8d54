import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export function createWorkerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    processed: new Counter({
      name: 'paymentsctl_worker_messages_processed_total',
      help: 'Messages handled to an outcome (result: succeeded, declined, duplicate, refunded, ...)',
      labelNames: ['handler', 'topic', 'result'],
      registers,
    }),
    failed: new Counter({
      name: 'paymentsctl_worker_messages_failed_total',
      help: 'Failed handling attempts by kind (transient, permanent, infrastructure)',
      labelNames: ['handler', 'topic', 'kind'],
      registers,
    }),
    retried: new Counter({
      name: 'paymentsctl_worker_messages_retried_total',
      help: 'Messages moved to a retry topic',
      labelNames: ['topic', 'level'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'paymentsctl_worker_messages_dead_lettered_total',
      help: 'Messages moved to a dead-letter topic',
      labelNames: ['topic', 'reason'],
      registers,
    }),
    handlerSeconds: new Histogram({
      name: 'paymentsctl_worker_handler_duration_seconds',
      help: 'Time to handle one message, Stripe call and transaction included',
      labelNames: ['handler'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    commitBatchSize: new Histogram({
      name: 'paymentsctl_worker_commit_batch_messages',
      help: 'Messages committed together in one transaction (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 500],
      registers,
    }),
    lag: new Gauge({
      name: 'paymentsctl_worker_consumer_lag',
      help: 'Messages behind the end of each assigned partition, as of its last fetched batch',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    waitingRetryPartitions: new Gauge({
      name: 'paymentsctl_worker_retry_partitions_waiting',
      help: 'Retry-topic partitions paused until their next message is due',
      registers,
    }),
  };
}
