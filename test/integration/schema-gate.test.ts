import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { ensurePipelineTopics } from '../../src/kafka/ensure.js';
import { startStripeEmulator, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';
import { uniquePrefix } from '../helpers/kafka.js';
import { spawnRole } from '../helpers/roles.js';
import { waitFor } from '../helpers/wait.js';

const databases: TestDatabase[] = [];
let emulator: RunningEmulator;
let prefix: string;

beforeAll(async () => {
  prefix = uniquePrefix();
  await ensurePipelineTopics({ brokers: inject('stack').kafkaBrokers.split(','), prefix, partitions: 1, retryLevels: 3 });
  emulator = await startStripeEmulator({ port: 0, seed: 3 });
});
afterAll(async () => {
  await emulator?.close();
  await Promise.all(databases.map((db) => db.drop()));
});

async function database(kind: 'empty' | 'migrated'): Promise<TestDatabase> {
  const db = kind === 'empty' ? await createEmptyDatabase() : await createTestDatabase();
  databases.push(db);
  return db;
}

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const env = (db: TestDatabase): Record<string, string> => ({
  DATABASE_URL: db.url,
  KAFKA_BROKERS: inject('stack').kafkaBrokers,
  KAFKA_TOPIC_PREFIX: prefix,
  STRIPE_API_BASE: emulator.url,
  STRIPE_API_KEY: 'sk_test_schema_gate',
  STRIPE_WEBHOOK_SECRET: 'whsec_schema_gate',
});

const OPS = ['--metrics-host', '127.0.0.1', '--metrics-port', '0'];
const ROLES: { role: string; args: string[] }[] = [
  { role: 'publish-outbox', args: [...OPS, '--poll-interval', '200ms'] },
  { role: 'worker', args: [...OPS, '--group', 'schema-gate'] },
  { role: 'webhook-serve', args: ['--host', '127.0.0.1', '--port', '0', ...OPS] },
  { role: 'history-serve', args: ['--host', '127.0.0.1', '--port', '0', ...OPS] },
];

describe.each(ROLES)('$role checks the schema it needs before it starts', ({ role, args }) => {
  it('behind: waits not ready, saying what to run, and starts once `migrate` has run', async () => {
    const db = await database('empty');
    const running = await spawnRole([role, ...args, '--wait-for-migrations', '2m'], env(db), { until: 'serving' });
    try {
      await waitFor('the waiting line', () => running.output().includes('waiting for `paymentsctl migrate`'));
      expect(running.output()).toContain('has no migrations applied, this binary needs');
      const waiting = await fetch(`http://127.0.0.1:${running.metricsPort}/readyz`);
      expect(waiting.status).toBe(503);
      expect(((await waiting.json()) as { schema?: string }).schema).toContain('this binary needs');

      const migrate = await runCli(['migrate'], { DATABASE_URL: db.url });
      expect(migrate.exitCode, migrate.stderr).toBe(0);
      await waitFor(`${role} to be ready after the migration`, async () => {
        const response = await fetch(`http://127.0.0.1:${running.metricsPort}/readyz`).catch(() => undefined);
        return response?.status === 200;
      });
      expect(running.output()).toContain(`"msg":"${role} started"`);
    } finally {
      await running.kill('SIGTERM');
    }
    expect(running.process.exitCode).toBe(0);
  });

  it('behind past --wait-for-migrations: exits 2 with the command to run', async () => {
    const db = await database('empty');
    const run = await runCli([role, ...args, '--wait-for-migrations', '1s'], env(db));
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toContain('gave up after');
    expect(run.stderr).toContain('run `paymentsctl migrate`');
  });

  it('ahead: refuses with both versions (exit 2) unless --allow-newer-schema', async () => {
    const db = await database('migrated');
    await sql(
      db.url,
      `INSERT INTO paymentsctl_migrations (version, name, checksum, duration_ms) VALUES (999, '999_from_a_newer_release.sql', 'x', 0)`,
    );
    const run = await runCli([role, ...args, '--wait-for-migrations', '0'], env(db));
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toContain('is at 999_from_a_newer_release.sql, newer than this binary knows');
    expect(run.stderr).toMatch(/it ships up to \d{3}_\w+\.sql/);
    expect(run.stderr).toContain('--allow-newer-schema');

    const allowed = await spawnRole([role, ...args, '--allow-newer-schema'], env(db));
    await allowed.kill('SIGTERM');
    expect(allowed.output()).toContain('starting anyway (--allow-newer-schema)');
  });

  it('drifted: refuses an applied migration whose file changed (exit 2)', async () => {
    const db = await database('migrated');
    await sql(db.url, `UPDATE paymentsctl_migrations SET checksum = 'edited' WHERE version = 1`);
    const run = await runCli([role, ...args], env(db));
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toContain('whose files changed since: 001_initial.sql');
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('webhook-serve serving its probes on the webhook port', () => {
  it('answers /healthz and a not-ready /readyz there while it waits, then the webhook itself', async () => {
    const db = await database('empty');
    const port = await freePort();
    const running = await spawnRole(['webhook-serve', '--host', '127.0.0.1', '--port', String(port)], env(db), { until: 'serving' });
    try {
      await waitFor('the waiting line', () => running.output().includes('waiting for `paymentsctl migrate`'));
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
      expect((await runCli(['migrate'], { DATABASE_URL: db.url })).exitCode).toBe(0);
      await waitFor(
        'the webhook to be ready',
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
      );
      // an unsigned POST reaches the webhook route now, which refuses it
      expect((await fetch(`http://127.0.0.1:${port}/webhook/stripe`, { method: 'POST', body: '{}' })).status).toBe(400);
    } finally {
      await running.kill('SIGTERM');
    }
  });
});

describe('operator commands that write', () => {
  it('reconcile refuses a database that is behind at once (exit 2), with the command to run', async () => {
    const db = await database('empty');
    const run = await runCli(['reconcile', '--json'], env(db));
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stdout + run.stderr).toContain('run `paymentsctl migrate`');
  });
});
