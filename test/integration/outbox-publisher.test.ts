import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type pg from 'pg';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { consumeUntil, createTopics, uniquePrefix } from '../helpers/kafka.js';
import { startPublisher, type PublisherProcess } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait.js';
import { inspectDelivery } from '../helpers/outbox-checks.js';
import { enqueue, enqueueMany, type OutboxMessage } from '../../src/outbox/enqueue.js';
import { deletePublishedBefore } from '../../src/outbox/store.js';
import { PUBLISHER_LOCK_NAMESPACE } from '../../src/db/locks.js';

const TOPIC = 'orders.placed';

describe('publish-outbox', () => {
  const { kafkaBrokers } = inject('stack');
  let db: TestDatabase;
  let pool: pg.Pool;
  const running: PublisherProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 12);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill('SIGKILL')));
    await pool.query('TRUNCATE outbox');
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  async function setup() {
    const prefix = uniquePrefix();
    await createTopics(kafkaBrokers, [prefix + TOPIC]);
    const env = { DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: prefix };
    const start = async (args: string[] = []) => {
      const publisher = await startPublisher(env, ['--topic', TOPIC, ...args]);
      running.push(publisher);
      return publisher;
    };
    return { prefix, kafkaTopic: prefix + TOPIC, start };
  }

  async function commit(messages: OutboxMessage[]): Promise<string[]> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const ids = await enqueueMany(client, messages);
      await client.query('COMMIT');
      return ids;
    } finally {
      client.release();
    }
  }

  const order = (key: string, seq: number, extra: Record<string, unknown> = {}): OutboxMessage => ({
    topic: TOPIC,
    key,
    type: 'orders.placed',
    data: { order_id: key, seq, amount: 1000 + seq, currency: 'usd', ...extra },
  });

  const unpublished = async () => Number((await pool.query('SELECT count(*) FROM outbox WHERE published_at IS NULL')).rows[0].count);

  it('publishes committed rows as CloudEvents keyed by aggregate, woken by NOTIFY rather than the poll', async () => {
    const { kafkaTopic, start } = await setup();
    // An hour-long poll: only the outbox trigger's NOTIFY can make this publish promptly.
    const publisher = await start(['--poll-interval', '1h']);
    await waitFor('leadership', () => publisher.isLeader(TOPIC));
    const [eventId] = await commit([order('order-1', 1)]);
    const messages = await consumeUntil(kafkaBrokers, kafkaTopic, (m) => m.length >= 1, 30_000);
    expect(messages).toHaveLength(1);
    const message = messages[0]!;
    expect(message.key).toBe('order-1');
    expect(JSON.parse(message.value)).toEqual({ order_id: 'order-1', seq: 1, amount: 1001, currency: 'usd' });
    expect(message.headers).toMatchObject({
      ce_specversion: '1.0',
      ce_id: eventId,
      ce_type: 'orders.placed',
      ce_source: 'paymentsctl',
      'content-type': 'application/json',
    });
    expect(Date.parse(message.headers.ce_time!)).not.toBeNaN();
    await waitFor('the row to be marked published', async () => (await unpublished()) === 0);
  });

  it('skips no row and keeps each key in commit order when transactions commit out of id order', async () => {
    const { kafkaTopic, start } = await setup();
    await pool.query('CREATE TABLE IF NOT EXISTS aggregate_versions (key text PRIMARY KEY, version int NOT NULL)');
    await start(['--batch-size', '50']);
    const keys = Array.from({ length: 8 }, (_, i) => `agg-${i}`);
    const ids: string[] = [];
    // Each transaction writes its event first and bumps the aggregate's version afterwards, then
    // lingers before committing: without per-key ordering in the outbox, a later transaction on the
    // same key could take a higher id and still commit first.
    const writer = async (worker: number) => {
      const client = await pool.connect();
      try {
        for (let i = 0; i < 40; i++) {
          const key = keys[(worker * 7 + i) % keys.length]!;
          await client.query('BEGIN');
          const eventId = await enqueue(client, { topic: TOPIC, key, type: 'aggregate.changed', data: { seq: -1 } });
          const version = (
            await client.query<{ version: number }>(
              `INSERT INTO aggregate_versions VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET version = aggregate_versions.version + 1 RETURNING version`,
              [key],
            )
          ).rows[0]!.version;
          await client.query(`UPDATE outbox SET payload = jsonb_build_object('seq', $2::int) WHERE event_id = $1`, [eventId, version]);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
          await client.query('COMMIT');
          ids.push(eventId);
        }
      } finally {
        client.release();
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    const expected = new Set(ids);
    const messages = await consumeUntil(kafkaBrokers, kafkaTopic, (m) => new Set(m.map((x) => x.headers.ce_id)).size >= expected.size);
    const report = inspectDelivery(messages, expected);
    expect(report.missing).toEqual([]);
    expect(report.outOfOrderKeys).toEqual([]);
    expect(report.distinct).toBe(320);
  });

  it('sets aside a row Kafka cannot take, holds back the later events of its key, and lets other keys through', async () => {
    const { kafkaTopic, start } = await setup();
    const publisher = await start(['--max-message-bytes', '4096']);
    const [, bigId, blockedId] = await commit([
      order('stuck', 1),
      order('stuck', 2, { note: 'x'.repeat(10_000) }),
      order('stuck', 3),
      order('free', 1),
      order('free', 2),
    ]);
    // The keys may sit on different partitions, read at different times: wait for both.
    const messages = await consumeUntil(
      kafkaBrokers,
      kafkaTopic,
      (m) => m.filter((x) => x.key === 'free').length >= 2 && m.some((x) => x.key === 'stuck'),
    );
    await waitFor(
      'the rejection to be recorded',
      async () => ((await pool.query(`SELECT 1 FROM outbox WHERE last_error IS NOT NULL`)).rowCount ?? 0) > 0,
    );
    // A consumer can see a message before the publisher has marked its row: wait for the mark.
    await waitFor(
      'the first row of the stuck key to be marked published',
      async () => ((await pool.query(`SELECT 1 FROM outbox WHERE key = 'stuck' AND published_at IS NOT NULL`)).rowCount ?? 0) > 0,
    );
    const rows = (
      await pool.query<{ event_id: string; published_at: Date | null; last_error: string | null; attempts: number }>(
        `SELECT event_id::text, published_at, last_error, attempts FROM outbox WHERE key = 'stuck' ORDER BY id`,
      )
    ).rows;
    expect(rows[0]!.published_at).not.toBeNull();
    expect(rows[1]).toMatchObject({ event_id: bigId, published_at: null, attempts: 1 });
    expect(rows[1]!.last_error).toMatch(/exceeds the 4096-byte limit/);
    expect(rows[2]).toMatchObject({ event_id: blockedId, published_at: null, last_error: null });
    expect(messages.filter((m) => m.key === 'stuck').map((m) => JSON.parse(m.value).seq)).toEqual([1]);
    expect(await publisher.metrics()).toMatch(/paymentsctl_outbox_rejected_total\{topic="orders\.placed"[^}]*\} 1/);
    expect(await publisher.metrics()).toMatch(/paymentsctl_outbox_rejected_rows\{topic="orders\.placed"[^}]*\} 1/);
    expect(publisher.output()).toContain('outbox row set aside');

    // Once an operator removes the bad row, the held-back event follows.
    await pool.query('DELETE FROM outbox WHERE event_id = $1', [bigId]);
    const after = await consumeUntil(kafkaBrokers, kafkaTopic, (m) => m.some((x) => x.headers.ce_id === blockedId));
    expect(after.filter((m) => m.key === 'stuck').map((m) => JSON.parse(m.value).seq)).toEqual([1, 3]);
  });

  it('on SIGTERM finishes, releases its lock at once to a standby, and exits 0', async () => {
    const { kafkaTopic, start } = await setup();
    const first = await start();
    await waitFor('leadership', () => first.isLeader(TOPIC));
    const second = await start();
    const firstIds = await commit(Array.from({ length: 200 }, (_, i) => order(`k${i % 10}`, i)));
    await waitFor('first batch published', async () => (await unpublished()) === 0);
    first.process.kill('SIGTERM');
    const result = await first.process;
    expect(result.exitCode).toBe(0);
    expect(first.output()).toContain('shutting down');
    await waitFor('the standby to lead', () => second.isLeader(TOPIC), 10_000);
    const secondIds = await commit(Array.from({ length: 200 }, (_, i) => order(`k${i % 10}`, 200 + i)));
    const expected = new Set([...firstIds, ...secondIds]);
    const messages = await consumeUntil(kafkaBrokers, kafkaTopic, (m) => new Set(m.map((x) => x.headers.ce_id)).size >= expected.size);
    const report = inspectDelivery(messages, expected);
    expect(report).toMatchObject({ missing: [], outOfOrderKeys: [], overlappingTerms: [], duplicates: 0 });
    expect(report.terms.length).toBe(2);
  });

  it('a leader whose database connection is cut stops at once; leadership resumes under a new term with nothing lost', async () => {
    const { kafkaTopic, start } = await setup();
    const a = await start();
    const b = await start();
    await waitFor('a leader', async () => (await a.isLeader(TOPIC)) || (await b.isLeader(TOPIC)));
    const leader = (await a.isLeader(TOPIC)) ? a : b;
    const ids = await commit(Array.from({ length: 300 }, (_, i) => order(`k${i % 20}`, i)));
    // Cut the leader's lock connection from the server side.
    await pool.query(
      `SELECT pg_terminate_backend(l.pid) FROM pg_locks l
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [PUBLISHER_LOCK_NAMESPACE],
    );
    await waitFor('the old leader to step down', () => leader.output().includes('no longer the active outbox publisher'), 10_000);
    // Either replica may win the lock next (the old one reconnects too); it is a new term.
    const acquisitions = () => (a.output() + b.output()).split('became the active outbox publisher').length - 1;
    await waitFor(
      'a new leadership term',
      async () => acquisitions() >= 2 && ((await a.isLeader(TOPIC)) || (await b.isLeader(TOPIC))),
      30_000,
    );
    const more = await commit(Array.from({ length: 300 }, (_, i) => order(`k${i % 20}`, 300 + i)));
    const expected = new Set([...ids, ...more]);
    const messages = await consumeUntil(kafkaBrokers, kafkaTopic, (m) => new Set(m.map((x) => x.headers.ce_id)).size >= expected.size);
    const report = inspectDelivery(messages, expected);
    expect(report).toMatchObject({ missing: [], outOfOrderKeys: [], overlappingTerms: [] });
  });

  it('retention deletes only published rows older than the window', async () => {
    // Written one transaction at a time, oldest first, as they would have been over three days.
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(...(await commit([order(`r${i}`, i)])));
    const [oldUnpublished, oldPublished, oldPublished2, recentPublished] = ids;
    const age = (interval: string, ids: (string | undefined)[], published: boolean) =>
      pool.query(
        `UPDATE outbox SET created_at = now() - $1::interval, published_at = ${published ? `now() - $1::interval + interval '1 second'` : 'NULL'}
         WHERE event_id = ANY($2::uuid[])`,
        [interval, ids],
      );
    await age('2 days', [oldPublished, oldPublished2], true);
    await age('1 hour', [recentPublished], true);
    await age('3 days', [oldUnpublished], false);
    const deleted = await deletePublishedBefore(pool, [TOPIC, 'other.topic'], 24 * 3_600_000, 1, () => false);
    expect(deleted).toBe(2);
    const left = (await pool.query<{ event_id: string }>('SELECT event_id::text FROM outbox')).rows.map((r) => r.event_id);
    expect(left.sort()).toEqual(ids.filter((id) => id !== oldPublished && id !== oldPublished2).sort());
  });

  it('the running publisher applies --retain to the topics it leads', async () => {
    const { start } = await setup();
    // An old published row and a new one, written in that order as they would have been.
    const [oldId] = await commit([order('old', 1)]);
    await commit([order('new', 1)]);
    await pool.query(
      `UPDATE outbox SET created_at = now() - interval '2 hours', published_at = now() - interval '2 hours' WHERE event_id = $1`,
      [oldId],
    );
    const publisher = await start(['--retain', '1h']);
    await waitFor(
      'retention to delete the old published row',
      async () => ((await pool.query('SELECT 1 FROM outbox WHERE event_id = $1', [oldId])).rowCount ?? 0) === 0,
    );
    await waitFor('the new row to be published', async () => (await unpublished()) === 0);
    expect((await pool.query('SELECT count(*) FROM outbox')).rows[0].count).toBe('1');
    expect(await publisher.metrics()).toMatch(/paymentsctl_outbox_retention_deleted_total\{[^}]*\} 1/);
  });

  it('serves health, readiness and the outbox metrics', async () => {
    const { start } = await setup();
    const publisher = await start();
    await waitFor('leadership', () => publisher.isLeader(TOPIC));
    await commit([order('m', 1)]);
    await waitFor('publish', async () => (await unpublished()) === 0);
    const base = `http://127.0.0.1:${publisher.metricsPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await publisher.metrics();
    for (const name of [
      'paymentsctl_outbox_backlog{topic="orders.placed"',
      'paymentsctl_outbox_oldest_unpublished_seconds{topic="orders.placed"',
      'paymentsctl_outbox_published_total{topic="orders.placed"',
      'paymentsctl_outbox_publish_latency_seconds_bucket',
      'paymentsctl_outbox_leader{topic="orders.placed"',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/paymentsctl_outbox_published_total\{topic="orders\.placed"[^}]*\} 1/);
  });
});
