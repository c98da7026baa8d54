import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { inject } from 'vitest';
import { Partitioners } from 'kafkajs';
import type pg from 'pg';
import { createKafka } from '../../src/kafka/client.js';
import { ensurePipelineTopics } from '../../src/kafka/ensure.js';
import { readPartitions, type ReadMessage } from '../../src/kafka/reader.js';
import type { DlqReplayReport } from '../../src/ops/replay/dlq.js';
import { ReplayHeaders, replayHeaders } from '../../src/ops/replay/replay-headers.js';
import type { ReplayMessageRow, ReplayRun } from '../../src/ops/replay/store.js';
import { failureHeaders } from '../../src/worker/headers.js';
import { BIN, parseJson, runCli } from '../helpers/cli.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { uniquePrefix } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `replay dlq` on a real broker and database, with dead letters written the way the worker writes
 * them: filters, the allow-list, copies byte-equal but for the documented headers, skip and --again,
 * and Ctrl-C in the middle then a re-run — each message in the destination exactly once.
 */
describe('paymentsctl replay dlq', () => {
  const { kafkaBrokers } = inject('stack');
  const brokers = kafkaBrokers.split(',');
  let db: TestDatabase;
  let pool: pg.Pool;
  const kafka = createKafka({ brokers });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });

  /** A topic prefix (a pipeline) of its own per case, so cases do not see each other's messages. */
  async function pipelineTopics(): Promise<{ prefix: string; env: Record<string, string> }> {
    const prefix = uniquePrefix();
    const ensure = () => ensurePipelineTopics({ brokers, prefix, partitions: 3, retryLevels: 3 });
    await ensure().catch(async () => ensure());
    return { prefix, env: { DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: prefix } };
  }

  interface Letter {
    id: string;
    key: string;
    kind?: 'transient' | 'permanent' | 'invalid_message';
    type?: string;
    error?: string;
    original?: string;
    timestamp?: number;
  }

  /** Dead letters as the worker writes them: the original's headers (one not UTF-8) plus the failure's. */
  async function deadLetter(prefix: string, dlq: string, letters: Letter[]): Promise<void> {
    await producer.send({
      topic: `${prefix}${dlq}.dlq`,
      messages: letters.map((l, i) => {
        const kind = l.kind ?? 'transient';
        const headers = failureHeaders(
          { ce_specversion: '1.0', ce_id: l.id, ce_type: l.type ?? dlq, ce_source: 'shop', 'content-type': 'application/json' },
          {
            origin: { topic: `${prefix}${l.original ?? dlq}`, partition: i % 3, offset: String(100 + i), timestamp: 1_000 },
            consumer: 'payments',
            attempts: kind === 'transient' ? 4 : 1,
            error: l.error ?? 'Stripe answered 429 rate_limit',
            errorKind: kind,
            now: Date.now(),
            deadLetterReason: kind === 'transient' ? 'retries_exhausted' : kind === 'permanent' ? 'permanent_error' : 'invalid_message',
          },
        );
        return {
          key: l.key,
          value: JSON.stringify({ order_id: l.key, amount: 1000 + i }),
          headers: { ...headers, trace: Buffer.from([0xff, 0x00, 0xfe]) },
          ...(l.timestamp !== undefined ? { timestamp: String(l.timestamp) } : {}),
        };
      }),
    });
  }

  /** Everything on a topic, raw, read to its end. */
  async function readAll(topic: string): Promise<ReadMessage[]> {
    const ends = await admin.fetchTopicOffsets(topic);
    const messages: ReadMessage[] = [];
    await readPartitions({
      kafka,
      partitions: ends.map((e) => ({ topic, partition: e.partition, from: BigInt(e.low), until: BigInt(e.high) })),
      follow: false,
      onMessage: (m) => void messages.push(m),
    });
    return messages;
  }

  const replay = async (env: Record<string, string>, args: string[], expectedExit = 0) => {
    const result = await runCli(['replay', 'dlq', ...args, '--json'], env);
    if (result.exitCode !== expectedExit)
      throw new Error(`replay dlq ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}\n${result.stdout}`);
    return parseJson<DlqReplayReport>(result.stdout);
  };
  const eventIds = (messages: ReadMessage[]) => messages.map((m) => String(m.headers.ce_id)).sort();

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url);
    await admin.connect();
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
    await pool.end();
    await db.drop();
  });

  it('dry run: the plan by original topic × error kind × reason with counts and a sample; nothing sent, nothing recorded', async () => {
    const { prefix, env } = await pipelineTopics();
    await deadLetter(prefix, 'orders.placed', [
      { id: 'evt-a1', key: 'ord-a1' },
      { id: 'evt-a2', key: 'ord-a2' },
      { id: 'evt-a3', key: 'ord-a3', kind: 'invalid_message', error: 'the value is not JSON' },
    ]);
    await deadLetter(prefix, 'payments.failed', [{ id: 'evt-f1', key: 'ord-f1', kind: 'permanent', error: 'no such order' }]);
    const runsBefore = (await pool.query('SELECT count(*)::int AS n FROM replays')).rows[0].n;
    const plan = await replay(env, []);
    expect(plan).toMatchObject({ mode: 'plan', read: 4, selected: 4, alreadyReplayed: 0, toReplay: 4, replayed: 0, exitCode: 0 });
    expect(plan.groups.map((g) => [g.originalTopic.slice(prefix.length), g.errorKind, g.reason, g.count])).toEqual([
      ['orders.placed', 'invalid_message', 'invalid_message', 1],
      ['orders.placed', 'transient', 'retries_exhausted', 2],
      ['payments.failed', 'permanent', 'permanent_error', 1],
    ]);
    // The sample is the group's first in topic, partition, offset order.
    expect(plan.groups[1]!.sample).toMatchObject({ key: expect.stringMatching(/^ord-a[12]$/), error: 'Stripe answered 429 rate_limit' });
    expect(plan.groups[1]!.sample.eventId).toBe(plan.groups[1]!.sample.key!.replace('ord', 'evt'));
    expect(await readAll(`${prefix}orders.placed`)).toEqual([]);
    expect((await pool.query('SELECT count(*)::int AS n FROM replays')).rows[0].n).toBe(runsBefore);
    // The text form says it is a dry run and how to act.
    const text = await runCli(['replay', 'dlq'], env);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/dry run: nothing sent; add --execute to replay 4 messages/);
    expect(text.stdout).toMatch(/orders\.placed · transient · retries_exhausted: 2/);
  });

  it('every filter selects what it says', async () => {
    const { prefix, env } = await pipelineTopics();
    const hour = 3_600_000;
    const now = Date.now();
    await deadLetter(prefix, 'orders.placed', [
      { id: 'evt-old', key: 'ord-old', timestamp: now - 5 * hour },
      { id: 'evt-new', key: 'ord-new', timestamp: now - hour / 2 },
      { id: 'evt-bad', key: 'trip-bad', kind: 'invalid_message', error: 'the value is not JSON', type: 'orders.placed.v2' },
    ]);
    await deadLetter(prefix, 'payments.failed', [{ id: 'evt-pf', key: 'ord-pf', kind: 'permanent', error: 'no such order' }]);
    const selected = async (args: string[]) => (await replay(env, args)).selected;
    expect(await selected(['--topic', 'payments.failed'])).toBe(1);
    expect(await selected(['--topic', 'orders.placed.dlq'])).toBe(3);
    expect(await selected(['--since', '2h'])).toBe(3);
    expect(await selected(['--until', '2h'])).toBe(1);
    expect(await selected(['--key', 'ord-*'])).toBe(3);
    expect(await selected(['--type', '*.v2'])).toBe(1);
    expect(await selected(['--error-kind', 'permanent'])).toBe(1);
    expect(await selected(['--reason', 'invalid_message'])).toBe(1);
    expect(await selected(['--reason', '*such order*'])).toBe(1);
    expect(await selected(['--event-id', 'evt-old', '--event-id', 'evt-pf'])).toBe(2);
    expect(await selected(['--key', 'ord-*', '--error-kind', 'transient'])).toBe(2);
    const limited = await replay(env, ['--limit', '2']);
    expect(limited).toMatchObject({ selected: 4, toReplay: 2, skipped: 2 });
    // A bad selection exits 2.
    expect((await runCli(['replay', 'dlq', '--topic', 'nope'], env)).exitCode).toBe(2);
    expect((await runCli(['replay', 'dlq', '--since', 'yesterday'], env)).exitCode).toBe(2);
  });

  it('the allow-list: --to a dead-letter or foreign topic is refused (exit 2), a retry topic is fine; a forged original topic is listed as failed (exit 1)', async () => {
    const { prefix, env } = await pipelineTopics();
    await deadLetter(prefix, 'orders.placed', [{ id: 'evt-to', key: 'ord-to' }]);
    for (const to of ['orders.placed.dlq', '__consumer_offsets', 'payments.checkout_session_created.retry.1']) {
      const refused = await runCli(['replay', 'dlq', '--to', to, '--execute'], env);
      expect(refused.exitCode, to).toBe(2);
      expect(refused.stderr).toMatch(/not a topic replay may write to/);
    }
    expect(await readAll(`${prefix}orders.placed.dlq`)).toHaveLength(1);
    const toRetry = await replay(env, ['--to', 'orders.placed.retry.1', '--execute']);
    expect(toRetry).toMatchObject({ replayed: 1, destination: `${prefix}orders.placed.retry.1` });
    expect(eventIds(await readAll(`${prefix}orders.placed.retry.1`))).toEqual(['evt-to']);

    await deadLetter(prefix, 'orders.cancelled', [{ id: 'evt-forged', key: 'ord-forged', original: 'orders.placed.dlq' }]);
    const forged = await replay(env, ['--topic', 'orders.cancelled', '--execute'], 1);
    expect(forged.failed).toEqual([
      expect.objectContaining({ eventId: 'evt-forged', error: expect.stringMatching(/not one replay may write to/) }),
    ]);
    expect(await readAll(`${prefix}orders.placed.dlq`)).toHaveLength(1);
  });

  it('--execute: copies back to their own topic and partition, key, value and headers byte-equal but for the documented ones; a second run skips; --again sends again', async () => {
    const { prefix, env } = await pipelineTopics();
    const letters = Array.from({ length: 5 }, (_, i) => ({ id: `evt-x${i}`, key: `ord-x${i}` }));
    await deadLetter(prefix, 'orders.placed', letters);
    const originals = await readAll(`${prefix}orders.placed.dlq`);
    const done = await replay(env, ['--execute']);
    expect(done).toMatchObject({ mode: 'execute', selected: 5, toReplay: 5, replayed: 5, failed: [], exitCode: 0 });
    const copies = await readAll(`${prefix}orders.placed`);
    expect(eventIds(copies)).toEqual(letters.map((l) => l.id).sort());
    const replayHeaderNames = new Set<string>(Object.values(ReplayHeaders));
    for (const copy of copies) {
      const original = originals.find((o) => String(o.headers.ce_id) === String(copy.headers.ce_id))!;
      expect(copy.key!.equals(original.key!)).toBe(true);
      expect(copy.value!.equals(original.value!)).toBe(true);
      expect(copy.partition).toBe(Number(String(original.headers.paymentsctl_original_partition)));
      const kept = Object.keys(original.headers).filter((n) => !n.startsWith('paymentsctl_') || n === 'paymentsctl_consumer');
      expect(
        Object.keys(copy.headers)
          .filter((n) => !replayHeaderNames.has(n))
          .sort(),
      ).toEqual(kept.sort());
      for (const name of kept) expect(Buffer.compare(copy.headers[name] as Buffer, original.headers[name] as Buffer), name).toBe(0);
      expect(String(copy.headers[ReplayHeaders.id])).toBe(done.replayId);
      expect(String(copy.headers[ReplayHeaders.sourceTopic])).toBe(original.topic);
      expect(String(copy.headers[ReplayHeaders.sourcePartition])).toBe(String(original.partition));
      expect(String(copy.headers[ReplayHeaders.sourceOffset])).toBe(original.offset);
      expect(String(copy.headers[ReplayHeaders.count])).toBe('1');
    }

    const second = await replay(env, ['--execute']);
    expect(second).toMatchObject({ selected: 5, alreadyReplayed: 5, toReplay: 0, replayed: 0, skipped: 5 });
    expect(await readAll(`${prefix}orders.placed`)).toHaveLength(5);

    const again = await replay(env, ['--execute', '--again', '--event-id', 'evt-x0']);
    expect(again).toMatchObject({ selected: 1, toReplay: 1, replayed: 1 });
    const after = await readAll(`${prefix}orders.placed`);
    expect(
      after
        .filter((m) => String(m.headers.ce_id) === 'evt-x0')
        .map((m) => String(m.headers[ReplayHeaders.count]))
        .sort(),
    ).toEqual(['1', '2']);

    // replay list / show read the bookkeeping.
    const list = parseJson<ReplayRun[]>((await runCli(['replay', 'list', '--json'], env)).stdout);
    const run = list.find((r) => r.id === done.replayId)!;
    expect(run).toMatchObject({ source: 'dlq', status: 'completed', selected: 5, replayed: 5, failed: 0 });
    expect(run.osUser).not.toBe('');
    const shown = parseJson<{ run: ReplayRun; messages: ReplayMessageRow[] }>(
      (await runCli(['replay', 'show', done.replayId!, '--json'], env)).stdout,
    );
    expect(shown.messages).toHaveLength(5);
    for (const m of shown.messages) {
      const copy = copies.find((c) => String(c.headers.ce_id) === m.eventId)!;
      expect(m).toMatchObject({ status: 'sent', sourceTopic: `${prefix}orders.placed.dlq`, destinationTopic: `${prefix}orders.placed` });
      expect([m.destinationPartition, m.destinationOffset]).toEqual([copy.partition, copy.offset]);
    }
    expect((await runCli(['replay', 'show', '999999'], env)).exitCode).toBe(2);
  });

  it('a run killed between a send and its answer: the re-run finds the copy that arrived and sends only the one that did not', async () => {
    const { prefix, env } = await pipelineTopics();
    await deadLetter(prefix, 'orders.placed', [
      { id: 'evt-k1', key: 'ord-k1' },
      { id: 'evt-k2', key: 'ord-k2' },
    ]);
    const deadLetters = await readAll(`${prefix}orders.placed.dlq`);
    const [arrived, lost] = ['evt-k1', 'evt-k2'].map((id) => deadLetters.find((m) => String(m.headers.ce_id) === id)!);
    // What a killed run leaves: both recorded as being sent; the broker had taken only the first.
    const killed = (
      await pool.query<{ id: string }>(
        `INSERT INTO replays (source, os_user, host, selection, status) VALUES ('dlq', 'test', 'test', '{}', 'running') RETURNING id::text`,
      )
    ).rows[0]!.id;
    for (const m of [arrived!, lost!])
      await pool.query(
        `INSERT INTO replay_messages (replay_id, source_topic, source_partition, source_offset, event_id, destination_topic, status)
         VALUES ($1, $2, $3, $4, $5, $6, 'sending')`,
        [killed, m.topic, m.partition, m.offset, String(m.headers.ce_id), `${prefix}orders.placed`],
      );
    await producer.send({
      topic: `${prefix}orders.placed`,
      messages: [
        {
          key: arrived!.key,
          value: arrived!.value,
          headers: replayHeaders(arrived!.headers, {
            replayId: killed,
            at: new Date(),
            source: { topic: arrived!.topic, partition: arrived!.partition, offset: arrived!.offset },
            count: 1,
          }),
        },
      ],
    });

    const rerun = await replay(env, ['--execute']);
    expect(rerun).toMatchObject({ selected: 2, alreadyReplayed: 1, replayed: 1, failed: [] });
    expect(eventIds(await readAll(`${prefix}orders.placed`))).toEqual(['evt-k1', 'evt-k2']);
    const rows = (
      await pool.query<{ event_id: string; status: string }>(
        `SELECT event_id, status FROM replay_messages WHERE replay_id = $1 ORDER BY event_id`,
        [killed],
      )
    ).rows;
    expect(rows).toEqual([
      { event_id: 'evt-k1', status: 'sent' },
      { event_id: 'evt-k2', status: 'failed' },
    ]);
  });

  it('Ctrl-C in the middle, then the same command again: each selected message in the destination exactly once', async () => {
    const { prefix, env } = await pipelineTopics();
    const letters = Array.from({ length: 12 }, (_, i) => ({ id: `evt-c${i}`, key: `ord-c${i}` }));
    await deadLetter(prefix, 'orders.placed', letters);
    const child = execa(process.execPath, [BIN, 'replay', 'dlq', '--execute', '--rate', '4', '--json'], {
      env: { ...process.env, ...env },
      reject: false,
    });
    const sent = async () =>
      (
        await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM replay_messages WHERE source_topic = $1 AND status = 'sent'`, [
          `${prefix}orders.placed.dlq`,
        ])
      ).rows[0]!.n;
    await waitFor('a few copies sent', async () => (await sent()) >= 3);
    child.kill('SIGINT');
    const stopped = await child;
    expect(stopped.exitCode).toBe(130);
    const first = parseJson<DlqReplayReport>(String(stopped.stdout));
    expect(first.interrupted).toBe(true);
    expect(first.replayed).toBeLessThan(12);
    expect((await readAll(`${prefix}orders.placed`)).length).toBe(first.replayed);

    const resumed = await replay(env, ['--execute', '--rate', '1000']);
    expect(resumed).toMatchObject({ alreadyReplayed: first.replayed, replayed: 12 - first.replayed, failed: [] });
    const copies = await readAll(`${prefix}orders.placed`);
    expect(eventIds(copies)).toEqual(letters.map((l) => l.id).sort());
    const runs = (
      await pool.query<{ status: string }>('SELECT status FROM replays WHERE id = ANY($1::bigint[]) ORDER BY id', [
        [first.replayId, resumed.replayId],
      ])
    ).rows;
    expect(runs.map((r) => r.status)).toEqual(['interrupted', 'completed']);
  });
});
