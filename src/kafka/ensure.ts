import { ConfigError, UnavailableError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { createKafka } from './client.js';
import { ensureTopics, fittingReplicationFactor, plannedTopics, type EnsureTopicsResult } from './topics.js';

export interface EnsurePipelineTopicsOptions {
  brokers: string[];
  prefix?: string;
  partitions: number;
  replicationFactor?: number;
  retryLevels?: number;
  log?: Logger;
}

/** Connects, fits the replication factor to the cluster, and creates the missing pipeline topics. */
export async function ensurePipelineTopics(options: EnsurePipelineTopicsOptions): Promise<EnsureTopicsResult> {
  const admin = createKafka({ brokers: options.brokers, log: options.log, clientId: 'paymentsctl-topics', retries: 2 }).admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new UnavailableError(`cannot reach Kafka at ${options.brokers.join(',')}: ${errorMessage(error)}`, {
      hint: 'check KAFKA_BROKERS (or --brokers) and that the brokers are up; `paymentsctl stack up` starts a local one',
      cause: error,
    });
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
