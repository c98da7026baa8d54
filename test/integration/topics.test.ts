import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseJson, runCli, runMain } from '../helpers/cli.js';
import { createKafka } from '../../src/kafka/client.js';
import { plannedTopics } from '../../src/kafka/topics.js';

interface EnsureJson {
  created: string[];
  existing: { name: string; partitions: number }[];
  topics: { name: string; partitions: number }[];
}

describe('paymentsctl topics ensure', () => {
  const { kafkaBrokers } = inject('stack');
  const prefix = `t${randomBytes(4).toString('hex')}.`;
  const admin = createKafka({ brokers: kafkaBrokers.split(',') }).admin();

  afterAll(async () => {
    await admin.connect();
    const mine = (await admin.listTopics()).filter((name) => name.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
  });

  it('creates every pipeline, retry and dead-letter topic once; a second run creates nothing', async () => {
    const expected = plannedTopics({ prefix, partitions: 3, replicationFactor: 1 })
      .map((t) => t.name)
      .sort();
    expect(expected).toEqual(
      expect.arrayContaining([
        `${prefix}orders.placed`,
        `${prefix}orders.placed.retry.3`,
        `${prefix}orders.placed.dlq`,
        `${prefix}payments.checkout_session_created`,
      ]),
    );

    const first = await runCli(['topics', 'ensure', '--json', '--partitions', '3'], {
      KAFKA_BROKERS: kafkaBrokers,
      KAFKA_TOPIC_PREFIX: prefix,
    });
    expect(first.exitCode, first.stderr).toBe(0);
    const created = parseJson<EnsureJson>(first.stdout);
    expect(created.created.sort()).toEqual(expected);
    expect(created.existing).toEqual([]);

    const second = await runCli(['topics', 'ensure', '--json', '--partitions', '3', '--topic-prefix', prefix], {
      KAFKA_BROKERS: kafkaBrokers,
    });
    expect(second.exitCode, second.stderr).toBe(0);
    const again = parseJson<EnsureJson>(second.stdout);
    expect(again.created).toEqual([]);
    expect(again.existing.map((t) => t.name).sort()).toEqual(expected);
    expect(again.existing.every((t) => t.partitions === 3)).toBe(true);

    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [`${prefix}orders.placed`] });
    expect(metadata.topics[0]!.partitions).toHaveLength(3);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: `${prefix}orders.placed.dlq`, configNames: ['retention.ms'] }],
    });
    expect(configs.resources[0]!.configEntries[0]).toMatchObject({ configName: 'retention.ms', configValue: '-1' });
    await admin.disconnect();
  });

  it('refuses a replication factor larger than the cluster', async () => {
    const run = await runMain(['topics', 'ensure', '--replication-factor', '3', '--topic-prefix', `${prefix}rf.`], {
      KAFKA_BROKERS: kafkaBrokers,
    });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--replication-factor 3 is more than the 1 broker(s)');
  });
});
