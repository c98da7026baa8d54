import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type pg from 'pg';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { consumeUntil, createTopics, uniquePrefix } from '../helpers/kafka.js';
import { startPublisher, type PublisherProcess } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait.js';
import { inspectDelivery } from '../helpers/outbox-checks.js';
import { enqueueMany } from '../../src/outbox/enqueue.js';

const TOPIC = 'orders.placed';
const ROWS = 10_000;
const KEYS = 200;

describe('publish-outbox failover', () => {
  const { kafkaBrokers } = inject('stack');
  let db: TestDatabase;
  let pool: pg.Pool;
  const publishers: PublisherProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 8);
  });
  afterAll(async () => {
    await Promise.all(publishers.map((p) => p.kill('SIGKILL')));
    await pool.end();
    await db.drop();
  });

  it('three replicas, leader SIGKILLed while 10,000 rows go in: all delivered, per-key order kept, a standby took over, leaders never overlapped', async () => {
    const prefix = uniquePrefix();
    const kafkaTopic = prefix + TOPIC;
    await createTopics(kafkaBrokers, [kafkaTopic], 6);
    const env = { DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: prefix };
    for (let i = 0; i < 3; i++) publishers.push(await startPublisher(env, ['--topic', TOPIC, '--batch-size', '500']));
    await waitFor('a leader', async () => (await Promise.all(publishers.map((p) => p.isLeader(TOPIC)))).some(Boolean));

    // Writers insert in 100 transactions of 100 rows; `seq` grows per key in commit order.
    const ids: string[] = [];
    let seq = 0;
    const writer = (async () => {
      const client = await pool.connect();
      try {
        for (let t = 0; t < ROWS / 100; t++) {
          await client.query('BEGIN');
          ids.push(
            ...(await enqueueMany(
              client,
              Array.from({ length: 100 }, () => {
                const n = seq++;
                return { topic: TOPIC, key: `order-${n % KEYS}`, type: 'orders.placed', data: { seq: n, pad: 'x'.repeat(200) } };
              }),
            )),
          );
          await client.query('COMMIT');
          if (t % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        client.release();
      }
    })();

    // Kill the leader once it has published part of the stream.
    await waitFor(
      'some rows published',
      async () => Number((await pool.query('SELECT count(*) FROM outbox WHERE published_at IS NOT NULL')).rows[0].count) > 1_000,
    );
    const leaderIndex = (await Promise.all(publishers.map((p) => p.isLeader(TOPIC)))).indexOf(true);
    const leader = publishers[leaderIndex]!;
    await leader.kill('SIGKILL');
    const standbys = publishers.filter((p) => p !== leader);
    await writer;
    await waitFor('a standby to take over', async () => (await Promise.all(standbys.map((p) => p.isLeader(TOPIC)))).some(Boolean), 30_000);
    await waitFor(
      'every row published',
      async () => Number((await pool.query('SELECT count(*) FROM outbox WHERE published_at IS NULL')).rows[0].count) === 0,
      120_000,
    );

    const expected = new Set(ids);
    expect(expected.size).toBe(ROWS);
    const messages = await consumeUntil(kafkaBrokers, kafkaTopic, (m) => new Set(m.map((x) => x.headers.ce_id)).size >= ROWS);
    const report = inspectDelivery(messages, expected);
    process.stdout.write(
      `failover: ${report.distinct} distinct events, ${report.duplicates} duplicates, leader terms ${report.terms.join(' → ')}\n`,
    );
    expect(report.missing).toEqual([]);
    expect(report.outOfOrderKeys).toEqual([]);
    expect(report.overlappingTerms).toEqual([]);
    expect(report.terms.length).toBeGreaterThanOrEqual(2);
  });
});
