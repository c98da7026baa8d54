import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addStoreOptions, type StoreFlags } from '../options.js';
import { printResult } from '../print.js';

interface EnsureFlags extends StoreFlags {
  partitions: string;
  replicationFactor?: string;
  retryLevels: string;
}

export function topicsCommand(ctx: () => CliContext): Command {
  const topics = new Command('topics')
    .summary("create the pipeline's Kafka topics (ensure)")
    .description("Manage the pipeline's Kafka topics");
  const ensure = topics
    .command('ensure')
    .description(
      'Create the pipeline topics that are missing: orders.placed, payments.completed, payments.failed,\n' +
        'orders.cancelled, payments.refunded, checkout.requested, payments.checkout_session_created, and for\n' +
        'each consumed topic its <topic>.retry.<n> and <topic>.dlq (dead letters never expire). Idempotent.',
    );
  addStoreOptions(ensure, ['kafkaBrokers', 'topicPrefix'])
    .option('--partitions <n>', 'partitions for new topics', '6')
    .option('--replication-factor <n>', 'replicas for new topics (default: min(3, number of brokers))')
    .option('--retry-levels <n>', 'retry topics per consumed topic', '3')
    .action(async (flags: EnsureFlags) => {
      const c = ctx();
      const options = await parseFlags(flags);
      const { ensurePipelineTopics } = await import('../../kafka/ensure.js');
      const { renderTopics, topicsJson } = await import('../../ui/topics.js');
      await printResult(c, await ensurePipelineTopics({ ...options, log: c.log }), renderTopics, topicsJson);
    });
  return topics;
}

async function parseFlags(flags: EnsureFlags) {
  const { kafkaBrokers, kafkaSecurity, topicPrefix, positiveInt } = await import('../../config.js');
  return {
    brokers: kafkaBrokers(flags),
    security: kafkaSecurity(flags),
    prefix: topicPrefix(flags),
    partitions: positiveInt(flags.partitions, '--partitions', { max: 10_000 }),
    replicationFactor:
      flags.replicationFactor === undefined ? undefined : positiveInt(flags.replicationFactor, '--replication-factor', { max: 32 }),
    retryLevels: positiveInt(flags.retryLevels, '--retry-levels', { min: 0, max: 10 }),
  };
}
