import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../src/kafka/client.js';
import { StatusMonitor } from '../../src/ops/status/status.js';
import { DEFAULT_THRESHOLDS, type StatusReport } from '../../src/ops/status/report.js';
import { parseJson, runCli } from '../helpers/cli.js';
import { startPipeline, type Pipeline } from '../helpers/pipeline.js';
import type { RoleProcess } from '../helpers/roles.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `status` against a live pipeline (publisher, worker, emulator) driven into each state: every
 * finding and exit code asserted on the built binary, the way an operator runs it.
 */
describe('paymentsctl status', () => {
  let pipeline: Pipeline;
  let worker: RoleProcess | undefined;
  const group = () => `${pipeline.prefix}paymentsctl-worker`;
  const status = async (args: string[] = [], env: Record<string, string> = {}) => {
    const result = await runCli(['status', '--json', '--look-interval', '300ms', ...args], { ...pipeline.env, ...env });
    return { ...result, report: parseJson<StatusReport>(result.stdout) };
  };
  const kinds = (report: StatusReport) => report.findings.map((f) => f.kind);
  const order = (id: string) => ({ order_id: id, amount: 1200, currency: 'usd', payment_method: 'pm_card_visa' });
  const unpublished = async () =>
    Number((await pipeline.pool.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')).rows[0].n);
  const settled = async (ids: string[]) =>
    Number(
      (await pipeline.pool.query("SELECT count(*) AS n FROM payments WHERE aggregate_id = ANY($1) AND status <> 'pending'", [ids])).rows[0]
        .n,
    );
  const startWorker = async () => {
    worker = await pipeline.startWorker(['--session-timeout', '6s']);
  };

  beforeAll(async () => {
    pipeline = await startPipeline();
  });
  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(pipeline.logs());
  });
  afterAll(async () => {
    await pipeline?.close();
  });

  it('STOP: orders published, no worker ever committed — exit 1 naming the group', async () => {
    await pipeline.placeOrders([order('ord-stop-1'), order('ord-stop-2')]);
    await waitFor('the orders published', async () => (await unpublished()) === 0);
    const { exitCode, report } = await status();
    expect(exitCode).toBe(1);
    expect(report.verdict).toBe('degraded');
    expect(kinds(report)).toContain('consumer_stop');
    expect(report.findings.find((f) => f.kind === 'consumer_stop')?.message).toContain(group());
    const consumers = report.consumers?.find((g) => g.groupId === group());
    expect(consumers).toMatchObject({ verdict: 'STOP', lag: 2, members: [] });
  });

  it('healthy once the worker has consumed everything — exit 0, every section in the JSON', async () => {
    await startWorker();
    await waitFor('the orders charged', async () => (await settled(['ord-stop-1', 'ord-stop-2'])) === 2);
    await waitFor('lag 0', async () => {
      const { report } = await status(['--looks', '1', '--no-peek']);
      return report.consumers?.find((g) => g.groupId === group())?.lag === 0;
    });
    const { exitCode, report, stdout } = await status();
    expect(report.findings).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report).toMatchObject({ verdict: 'healthy', unreachable: [], window: { looks: 3 }, topicPrefix: pipeline.prefix });
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining([
        'schema',
        'outbox',
        'publisher',
        'consumers',
        'retries',
        'deadLetters',
        'payments',
        'webhooks',
        'stripe',
        'thresholds',
      ]),
    );
    expect(report.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(report.schema?.state).toBe('current');
    expect(report.payments?.byStatus.succeeded).toBe(2);
    expect(report.publisher?.leaders.every((l) => l.leader?.applicationName === 'paymentsctl publish-outbox (leadership)')).toBe(true);
    expect(report.publisher?.instances).toBe(1);
    const consumers = report.consumers?.find((g) => g.groupId === group());
    expect(consumers).toMatchObject({ state: 'Stable', verdict: 'OK', lag: 0 });
    expect(consumers?.members).toHaveLength(1);
    expect(report.deadLetters?.every((d) => d.depth === 0)).toBe(true);
    expect(report.stripe).toEqual({ configured: true, reachable: true, mode: 'test' });
    expect(stdout).not.toContain(pipeline.env.STRIPE_API_KEY);

    const text = await runCli(['status', '--look-interval', '300ms'], pipeline.env);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/healthy/);
    expect(text.stdout).toContain('reachable, test mode');
  });

  it('a payment stuck pending past --max-pending', async () => {
    await pipeline.pool.query(
      "INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, created_at, updated_at) VALUES ('ord-stuck', 'payment_intent', 'pending', 100, 'usd', 'pi:ord-stuck', now() - interval '20 minutes', now() - interval '20 minutes')",
    );
    try {
      const { exitCode, report } = await status(['--no-peek']);
      expect(exitCode).toBe(1);
      expect(kinds(report)).toEqual(['payments_stuck']);
      expect(report.findings[0]?.message).toContain('ord-stuck');
      expect(report.payments?.stuck).toEqual([expect.objectContaining({ aggregateId: 'ord-stuck', status: 'pending' })]);
      // a longer threshold tolerates it
      expect((await status(['--no-peek', '--max-pending', '30m'])).exitCode).toBe(0);
    } finally {
      await pipeline.pool.query("DELETE FROM payments WHERE aggregate_id = 'ord-stuck'");
    }
  });

  it('a stopped worker: no members, lag growing (WARN), then stalled (STALL) with its time lag', async () => {
    await worker?.kill('SIGTERM');
    const stopped = await status(['--no-peek']);
    expect(stopped.exitCode).toBe(1);
    expect(stopped.report.findings).toEqual([
      expect.objectContaining({ kind: 'consumer_no_members', message: expect.stringContaining(group()) }),
    ]);

    // One key, so every new order lands on the same partition and its lag grows at each look: the key
    // of an order consumed before, so the group has committed on that partition (else it is STOP).
    const monitor = new StatusMonitor({
      databaseUrl: pipeline.db.url,
      brokers: pipeline.brokers.split(','),
      topicPrefix: pipeline.prefix,
      thresholds: DEFAULT_THRESHOLDS,
    });
    const admin = createKafka({ brokers: pipeline.brokers.split(',') }).admin();
    await admin.connect();
    const written = async () => (await admin.fetchTopicOffsets(`${pipeline.prefix}orders.placed`)).reduce((n, p) => n + Number(p.high), 0);
    try {
      for (let i = 0; i < 3; i++) {
        const before = await written();
        await pipeline.emit('orders.placed', [{ key: 'ord-stop-1', data: order(`ord-behind-${i}`) }]);
        await waitFor('the order on Kafka', async () => (await written()) > before);
        await monitor.look();
      }
      const growing = await monitor.report();
      const partition = growing.consumers?.find((g) => g.groupId === group())?.partitions.find((p) => p.lag > 0);
      expect(partition).toMatchObject({ verdict: 'WARN', lag: 3 });
      expect(growing.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['consumer_no_members', 'consumer_warn']));
      for (let i = 0; i < 3; i++) await monitor.look();
      const stalled = await monitor.report();
      const stuck = stalled.consumers?.find((g) => g.groupId === group())?.partitions.find((p) => p.lag > 0);
      expect(stuck).toMatchObject({ verdict: 'STALL', lag: 3 });
      // the age of the message at the committed offset: the first order that was not consumed
      expect(stuck?.timeLagMs).toEqual(expect.any(Number));
    } finally {
      await admin.disconnect();
      await monitor.close();
    }

    const { exitCode, report } = await status();
    expect(exitCode).toBe(1);
    expect(kinds(report)).toEqual(expect.arrayContaining(['consumer_no_members', 'consumer_stall']));
    expect(report.findings.find((f) => f.kind === 'consumer_stall')?.message).toContain(group());
    expect(report.consumers?.find((g) => g.groupId === group())?.maxTimeLagMs).toEqual(expect.any(Number));
    const text = await runCli(['status', '--look-interval', '300ms'], pipeline.env);
    expect(text.exitCode).toBe(1);
    expect(text.stdout.split('\n')[0]).toMatch(/degraded/);
    expect(text.stdout).toContain(`group ${group()} has no members`);
  });

  it('messages in a DLQ: depth, oldest age, error kinds and reasons', async () => {
    await startWorker();
    const producer = createKafka({ brokers: pipeline.brokers.split(',') }).producer();
    await producer.connect();
    await producer.send({ topic: `${pipeline.prefix}orders.placed`, messages: [{ key: 'ord-garbage', value: 'this is not json' }] });
    await producer.disconnect();
    await waitFor('the dead letter', async () => {
      const { report } = await status(['--looks', '1', '--no-peek']);
      return (report.deadLetters ?? []).some((d) => d.depth > 0) && report.consumers?.find((g) => g.groupId === group())?.lag === 0;
    });
    const { exitCode, report } = await status();
    expect(exitCode).toBe(1);
    expect(kinds(report)).toEqual(['dead_letters']);
    const dlq = report.deadLetters?.find((d) => d.depth > 0);
    expect(dlq).toMatchObject({
      topic: `${pipeline.prefix}orders.placed.dlq`,
      depth: 1,
      errorKinds: { invalid_message: 1 },
      reasons: { invalid_message: 1 },
      sampled: 1,
    });
    expect(dlq?.oldestAgeMs).toEqual(expect.any(Number));
    expect(report.findings[0]?.message).toContain('invalid_message');
    expect((await status(['--max-dead-letters', '1'])).exitCode).toBe(0);
  });

  it('no publisher leader, and a backlog older than --max-outbox-age', async () => {
    await pipeline.publisher.kill('SIGKILL');
    await pipeline.pool.query(
      "INSERT INTO outbox (topic, key, type, payload, created_at) VALUES ('orders.placed', 'ord-late', 'orders.placed', '{}', now() - interval '2 minutes')",
    );
    await waitFor('the lock released', async () => {
      const { report } = await status(['--looks', '1', '--no-peek', '--max-dead-letters', '10']);
      return report.publisher?.leaders.every((l) => l.leader === null) ?? false;
    });
    const { exitCode, report } = await status(['--max-dead-letters', '10']);
    expect(exitCode).toBe(1);
    expect(kinds(report)).toContain('publisher_no_leader');
    expect(kinds(report)).toContain('outbox_oldest_unpublished');
    expect(report.findings.find((f) => f.kind === 'outbox_oldest_unpublished')?.message).toContain('orders.placed');
    expect(report.outbox?.topics.find((t) => t.topic === 'orders.placed')).toMatchObject({ unpublished: 1 });
    expect(report.publisher?.instances).toBe(0);
  });

  it('a database behind the binary: the schema section and a finding that says to migrate', async () => {
    const last = await pipeline.pool.query<{ version: number; name: string; checksum: string; duration_ms: number }>(
      'SELECT version, name, checksum, duration_ms FROM paymentsctl_migrations ORDER BY version DESC LIMIT 1',
    );
    const row = last.rows[0]!;
    await pipeline.pool.query('DELETE FROM paymentsctl_migrations WHERE version = $1', [row.version]);
    try {
      const { exitCode, report } = await status(['--looks', '1', '--no-peek', '--max-dead-letters', '10']);
      expect(exitCode).toBe(1);
      expect(report.schema).toMatchObject({ state: 'behind', needs: row.name, pending: [row.name] });
      expect(report.findings.find((f) => f.kind === 'schema_behind')?.message).toContain('run `paymentsctl migrate`');
    } finally {
      await pipeline.pool.query('INSERT INTO paymentsctl_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)', [
        row.version,
        row.name,
        row.checksum,
        row.duration_ms,
      ]);
    }
  });

  it('Kafka unreachable: exit 3, the database still reported', async () => {
    const { exitCode, report } = await status([], { KAFKA_BROKERS: '127.0.0.1:1' });
    expect(exitCode).toBe(3);
    expect(report.verdict).toBe('unreachable');
    expect(report.unreachable).toEqual([expect.objectContaining({ store: 'kafka', error: expect.stringContaining('127.0.0.1:1') })]);
    expect(report.consumers).toBeNull();
    expect(report.payments?.byStatus.succeeded).toBeGreaterThan(0);
  });

  it('PostgreSQL unreachable: exit 3', async () => {
    const { exitCode, report } = await status(['--no-peek'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect(exitCode).toBe(3);
    expect(report.unreachable.map((u) => u.store)).toEqual(['postgres']);
  });
});
