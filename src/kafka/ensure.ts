import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { createKafka, kafkaConnectError } from './client.js';
import type { KafkaSecurity } from './security.js';
import { ensureTopics, fittingReplicationFactor, plannedTopics, type EnsureTopicsResult } from './topics.js';

export interface EnsurePipelineTopicsOptions {
  brokers: string[];
  prefix?: string;
  partitions: number;
  replicationFactor?: number;
  retryLevels?: number;
  log?: Logger;
  /** TLS and SASL (config.ts `kafkaSecurity`); default PLAINTEXT */
  security?: KafkaSecurity;
}

/** Connects, fits the replication factor to the cluster, and creates the missing pipeline topics. */
export async function ensurePipelineTopics(options: EnsurePipelineTopicsOptions): Promise<EnsureTopicsResult> {
  const admin = createKafka({
    brokers: options.brokers,
    log: options.log,
    clientId: 'paymentsctl-topics',
    retries: 2,
    security: options.security,
  }).admin();
  try {
    await admin.connect();
  } catch (error) {
    throw kafkaConnectError(error, options.brokers, options.security);
  }
  try {
    const cluster = await admin.describeCluster();
    const brokerCount = cluster.brokers.length;
    if (options.replicationFactor !== undefined && options.replicationFactor > brokerCount) {
      throw new ConfigError(
        '--replication-factor',
        `--replication-factor ${options.replicationFactor} is more than the ${brokerCount} broker(s) in the cluster`,
      );
    }
    const planned = plannedTopics({
      prefix: options.prefix,
      partitions: options.partitions,
      replicationFactor: fittingReplicationFactor(brokerCount, options.replicationFactor),
      retryLevels: options.retryLevels,
    });
    return await ensureTopics(admin, planned);
  } finally {
    await admin.disconnect();
  }
}
