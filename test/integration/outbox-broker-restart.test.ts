import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { consumeUntil, createTopics, uniquePrefix } from '../helpers/kafka.js';
import { startPublisher, type PublisherProcess } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait.js';
import { inspectDelivery } from '../helpers/outbox-checks.js';
import { enqueueMany } from '../../src/outbox/enqueue.js';
import { kafkaVersionFrom, startKafka, stopKafka, type ManagedKafka } from '../../src/stack/kafka.js';
import { defaultCacheDir } from '../../src/stack/paths.js';

const TOPIC = 'orders.placed';

// A broker of its own: stopping the suite's shared broker would break the other test files.
describe('publish-outbox when the Kafka broker goes away', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let workDir: string;
  let broker: ManagedKafka | undefined;
  let publisher: PublisherProcess | undefined;

  const launch = (ports?: { port: number; controllerPort: number }) =>
    startKafka({ version: kafkaVersionFrom(process.env), workDir, cacheDir: defaultCacheDir(), timeoutMs: 120_000, ...ports });

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 4);
    workDir = await mkdtemp(join(tmpdir(), 'paymentsctl-kafka-restart-'));
    broker = await launch();
  });
  afterAll(async () => {
    await publisher?.kill('SIGKILL');
    if (broker) await stopKafka(broker, { removeData: true });
    await rm(workDir, { recursive: true, force: true });
    await pool.end();
    await db.drop();
  });

  async function commitBatch(from: number, count: number): Promise<string[]> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const ids = await enqueueMany(
        client,
        Array.from({ length: count }, (_, i) => ({
          topic: TOPIC,
          key: `k${(from + i) % 25}`,
          type: 'orders.placed',
          data: { seq: from + i },
        })),
      );
      await client.query('COMMIT');
      return ids;
    } finally {
      client.release();
    }
  }

  const unpublished = async () => Number((await pool.query('SELECT count(*) FROM outbox WHERE published_at IS NULL')).rows[0].count);

  it('keeps rows while the broker is down and delivers all of them, in order, once it is back', async () => {
    const running = broker!;
    const prefix = uniquePrefix();
    await createTopics(running.brokers, [prefix + TOPIC]);
    publisher = await startPublisher({ DATABASE_URL: db.url, KAFKA_BROKERS: running.brokers, KAFKA_TOPIC_PREFIX: prefix }, [
      '--topic',
      TOPIC,
    ]);
    await waitFor('leadership', () => publisher!.isLeader(TOPIC));

    const ids = await commitBatch(0, 500);
    await waitFor('the first rows published', async () => (await unpublished()) === 0);

    await stopKafka(running);
    broker = undefined;
    ids.push(...(await commitBatch(500, 500)));
    // While the broker is down the rows wait; failures are counted, nothing is dropped.
    await waitFor('a failed publish attempt', async () =>
      /paymentsctl_outbox_publish_errors_total\{[^}]*kind="kafka"[^}]*\} [1-9]/.test(await publisher!.metrics()),
    );
    expect(await unpublished()).toBe(500);

    broker = await launch({ port: running.port, controllerPort: running.controllerPort });
    ids.push(...(await commitBatch(1000, 500)));
    await waitFor('every row published after the restart', async () => (await unpublished()) === 0, 120_000);

    const messages = await consumeUntil(broker.brokers, prefix + TOPIC, (m) => new Set(m.map((x) => x.headers.ce_id)).size >= ids.length);
    const report = inspectDelivery(messages, ids);
    process.stdout.write(`broker restart: ${report.distinct} distinct, ${report.duplicates} duplicates\n`);
    expect(report).toMatchObject({ missing: [], outOfOrderKeys: [], overlappingTerms: [] });
    expect(report.distinct).toBe(1500);
  });
});
