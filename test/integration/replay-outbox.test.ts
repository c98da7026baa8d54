import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type pg from 'pg';
import { ensurePipelineTopics } from '../../src/kafka/ensure.js';
import { enqueueMany } from '../../src/outbox/enqueue.js';
import type { OutboxReplayReport } from '../../src/ops/replay/outbox.js';
import { parseJson, runCli } from '../helpers/cli.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { consumeUntil, uniquePrefix } from '../helpers/kafka.js';
import { startPublisher, type PublisherProcess } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait.js';

/** Rows the publisher set aside (too large), reset once the limit is fixed and sent in key order; or discarded, kept and audited. */
describe('paymentsctl replay outbox', () => {
  const { kafkaBrokers } = inject('stack');
  const prefix = uniquePrefix();
  let db: TestDatabase;
  let pool: pg.Pool;
  let env: { DATABASE_URL: string; KAFKA_BROKERS: string; KAFKA_TOPIC_PREFIX: string };
  let publisher: PublisherProcess | undefined;

  const replay = async (args: string[], expectedExit = 0) => {
    const result = await runCli(['replay', 'outbox', ...args, '--json'], env);
    if (result.exitCode !== expectedExit) throw new Error(`replay outbox exited ${result.exitCode}:\n${result.stderr}\n${result.stdout}`);
    return parseJson<OutboxReplayReport>(result.stdout);
  };
  const setAside = async () =>
    (
      await pool.query<{ key: string }>('SELECT key FROM outbox WHERE published_at IS NULL AND last_error IS NOT NULL ORDER BY key')
    ).rows.map((r) => r.key);

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url);
    const ensure = () => ensurePipelineTopics({ brokers: kafkaBrokers.split(','), prefix, partitions: 1, retryLevels: 3 });
    await ensure().catch(async () => ensure());
    env = { DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: prefix };
  });
  afterAll(async () => {
    if (publisher && publisher.process.exitCode === null) await publisher.kill('SIGKILL');
    await pool.end();
    await db.drop();
  });

  it('lists set-aside rows; --execute resets them for the publisher; --discard --reason keeps them out of the outbox, audited', async () => {
    publisher = await startPublisher(env, ['--poll-interval', '200ms', '--max-message-bytes', '2000']);
    const big = 'x'.repeat(5_000);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await enqueueMany(client, [
        { topic: 'orders.placed', key: 'ord-big', type: 'orders.placed', data: { order_id: 'ord-big', note: big } },
        { topic: 'orders.placed', key: 'ord-big', type: 'orders.placed', data: { order_id: 'ord-big', note: 'the next one' } },
        { topic: 'orders.placed', key: 'ord-junk', type: 'orders.placed', data: { order_id: 'ord-junk', note: big } },
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await waitFor('both big rows set aside', async () => (await setAside()).length === 2);

    const plan = await replay([]);
    expect(plan).toMatchObject({ mode: 'plan', action: 'reset', done: 0 });
    expect(plan.rows.map((r) => r.key)).toEqual(['ord-big', 'ord-junk']);
    expect(plan.rows[0]!.error).toMatch(/byte|large|size/i);
    expect(await setAside()).toEqual(['ord-big', 'ord-junk']);

    // The fix: a publisher that takes larger messages.
    await publisher.kill('SIGTERM');
    publisher = await startPublisher(env, ['--poll-interval', '200ms', '--max-message-bytes', '1000000']);
    const bigId = plan.rows[0]!.eventId;
    const reset = await replay(['--event-id', bigId, '--execute']);
    expect(reset).toMatchObject({ mode: 'execute', action: 'reset', done: 1 });
    const sent = await consumeUntil(kafkaBrokers, `${prefix}orders.placed`, (m) => m.filter((x) => x.key === 'ord-big').length >= 2);
    // The reset row first, then the event its key held back.
    expect(sent.filter((m) => m.key === 'ord-big').map((m) => (JSON.parse(m.value) as { note: string }).note.slice(0, 12))).toEqual([
      'xxxxxxxxxxxx',
      'the next one',
    ]);
    expect(sent.find((m) => m.key === 'ord-big')!.headers.ce_id).toBe(bigId);
    expect(await setAside()).toEqual(['ord-junk']);

    expect((await runCli(['replay', 'outbox', '--discard', '--execute'], env)).exitCode).toBe(2);
    const discarded = await replay(['--discard', '--reason', 'a test order, never to be sent', '--execute']);
    expect(discarded).toMatchObject({ action: 'discard', done: 1 });
    expect(await setAside()).toEqual([]);
    const kept = (await pool.query('SELECT key, reason, last_error, replay_id::text FROM outbox_discarded')).rows;
    expect(kept).toEqual([
      { key: 'ord-junk', reason: 'a test order, never to be sent', last_error: expect.any(String), replay_id: discarded.replayId },
    ]);
    const audit = (await pool.query('SELECT replay_id::text, key, action FROM replay_outbox_rows ORDER BY replay_id')).rows;
    expect(audit).toEqual([
      { replay_id: reset.replayId, key: 'ord-big', action: 'reset' },
      { replay_id: discarded.replayId, key: 'ord-junk', action: 'discard' },
    ]);
    expect((await replay([])).rows).toEqual([]);
  });

  it('--published sends an event already published again, same event id, audited with when it was first published', async () => {
    const onTopic = async () =>
      (await consumeUntil(kafkaBrokers, `${prefix}orders.placed`, (m) => m.some((x) => x.key === 'ord-big'))).filter(
        (m) => m.key === 'ord-big',
      );
    const before = await onTopic();
    const first = before[0]!;
    expect((await runCli(['replay', 'outbox', '--published'], env)).exitCode).toBe(2);
    expect((await runCli(['replay', 'outbox', '--since', '1h'], env)).exitCode).toBe(2);
    const plan = await replay(['--published', '--event-id', first.headers.ce_id!]);
    expect(plan).toMatchObject({ mode: 'plan', action: 'republish', done: 0 });
    expect(plan.rows).toEqual([expect.objectContaining({ eventId: first.headers.ce_id, publishedAt: expect.any(String) })]);
    const done = await replay(['--published', '--event-id', first.headers.ce_id!, '--execute']);
    expect(done).toMatchObject({ action: 'republish', done: 1 });
    const after = await consumeUntil(
      kafkaBrokers,
      `${prefix}orders.placed`,
      (m) => m.filter((x) => x.key === 'ord-big').length > before.length,
    );
    const copies = after.filter((m) => m.headers.ce_id === first.headers.ce_id);
    expect(copies).toHaveLength(2);
    expect(copies[1]!.value).toBe(first.value);
    const audit = (await pool.query('SELECT action, previous_published_at FROM replay_outbox_rows WHERE replay_id = $1', [done.replayId]))
      .rows;
    expect(audit).toEqual([{ action: 'republish', previous_published_at: new Date(plan.rows[0]!.publishedAt!) }]);
    await waitFor(
      'the row published again',
      async () =>
        (await pool.query('SELECT published_at FROM outbox WHERE event_id = $1', [first.headers.ce_id])).rows[0]?.published_at !== null,
    );
  });
});
