import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { BIN, parseJson, runCli } from '../helpers/cli.js';
import { createKafka } from '../../src/kafka/client.js';
import { isProcessAlive } from '../../src/stack/process.js';
import { createStripeClient } from '../../src/stripe/client.js';

interface UpJson {
  databaseUrl: string;
  kafkaBrokers: string;
  stripeApiBase?: string;
  reused: boolean;
}
interface StatusJson {
  running: boolean;
  postgres?: { mode: string; managed: boolean; pid?: number; healthy: boolean; logFile?: string };
  kafka?: { mode: string; managed: boolean; pid?: number; healthy: boolean; logFile?: string; version?: string };
  stripe?: { mode: string; managed: boolean; pid?: number; healthy: boolean; logFile?: string };
}

describe('paymentsctl stack', () => {
  const stateDirs: string[] = [];
  const newStateDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paymentsctl-stack-test-'));
    stateDirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    // Whatever a failed assertion left running is stopped here.
    for (const dir of stateDirs) {
      await runCli(['stack', 'down'], { PAYMENTSCTL_STATE_DIR: dir });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('up starts a throwaway Postgres, a Kafka broker and the Stripe emulator, a second up reuses them, down leaves nothing behind', async () => {
    const env = { PAYMENTSCTL_STATE_DIR: await newStateDir() };

    const up = await runCli(['stack', 'up', '--json', '--fresh-postgres'], env);
    expect(up.exitCode, up.stderr).toBe(0);
    const first = parseJson<UpJson>(up.stdout);
    expect(first.reused).toBe(false);
    expect(first.databaseUrl).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/paymentsctl$/);
    expect(first.kafkaBrokers).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(first.stripeApiBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const client = new pg.Client({ connectionString: first.databaseUrl });
    await client.connect();
    expect((await client.query('SHOW fsync')).rows[0]).toEqual({ fsync: 'off' });
    await client.end();
    const admin = createKafka({ brokers: [first.kafkaBrokers] }).admin();
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toHaveLength(1);
    await admin.disconnect();

    const again = await runCli(['stack', 'up', '--json'], env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(parseJson<UpJson>(again.stdout)).toEqual({ ...first, reused: true });

    const envLines = await runCli(['stack', 'env'], env);
    const variables = Object.fromEntries(
      envLines.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2)),
    );
    expect(variables).toMatchObject({
      DATABASE_URL: first.databaseUrl,
      KAFKA_BROKERS: first.kafkaBrokers,
      STRIPE_API_BASE: first.stripeApiBase,
    });
    expect(variables.STRIPE_API_KEY).toMatch(/^sk_test_/);
    expect(variables.STRIPE_WEBHOOK_SECRET).toMatch(/^whsec_/);
    // The official SDK works against the emulator the stack started.
    const stripe = createStripeClient({ apiKey: variables.STRIPE_API_KEY!, apiBase: first.stripeApiBase });
    const intent = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    expect(intent.status).toBe('succeeded');

    const statusRun = await runCli(['stack', 'status', '--json'], env);
    expect(statusRun.exitCode).toBe(0);
    const status = parseJson<StatusJson>(statusRun.stdout);
    expect(status).toMatchObject({
      running: true,
      postgres: { mode: 'managed', managed: true, healthy: true },
      kafka: { mode: 'managed', managed: true, healthy: true, version: '3.9.1' },
      stripe: { mode: 'managed', managed: true, healthy: true },
    });
    expect(existsSync(status.kafka!.logFile!)).toBe(true);
    const pids = [status.postgres!.pid!, status.kafka!.pid!, status.stripe!.pid!];
    expect(pids.every(isProcessAlive)).toBe(true);

    const down = await runCli(['stack', 'down', '--json'], env);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(parseJson<{ stopped: string[] }>(down.stdout).stopped).toHaveLength(3);
    expect(pids.some(isProcessAlive)).toBe(false);

    const after = await runCli(['stack', 'status', '--json'], env);
    expect(after.exitCode).toBe(1);
    expect(parseJson<StatusJson>(after.stdout).running).toBe(false);
    const envAfter = await runCli(['stack', 'env'], env);
    expect(envAfter.exitCode).toBe(1);
    expect(envAfter.stderr).toContain('stack up');
  });

  it('a broker left by an interrupted `stack up` is found and stopped by `stack down`', async () => {
    const stateDir = await newStateDir();
    const env: Record<string, string | undefined> = {
      ...process.env,
      PAYMENTSCTL_STATE_DIR: stateDir,
      KAFKA_BROKERS: undefined,
      DATABASE_URL: undefined,
      DB_DSN: undefined,
    };
    const up = execa(process.execPath, [BIN, 'stack', 'up'], { env, extendEnv: false, reject: false, stdin: 'ignore' });
    const pidFile = join(stateDir, 'kafka', 'kafka.pid');
    while (!existsSync(pidFile)) {
      if (up.exitCode !== null && up.exitCode !== undefined) throw new Error(`stack up ended early: ${String((await up).stderr)}`);
      await sleep(20);
    }
    up.kill('SIGKILL');
    await up;
    const brokerPid = Number(await readFile(pidFile, 'utf8'));
    expect(brokerPid).toBeGreaterThan(1);
    expect(isProcessAlive(brokerPid)).toBe(true);

    const down = await runCli(['stack', 'down', '--json'], { PAYMENTSCTL_STATE_DIR: stateDir });
    expect(down.exitCode, down.stderr).toBe(0);
    expect(parseJson<{ stopped: string[] }>(down.stdout).stopped[0]).toContain(`pid ${brokerPid}`);
    expect(isProcessAlive(brokerPid)).toBe(false);
  });

  it('without java or mvn it fails clearly and names KAFKA_BROKERS as the way out', async () => {
    const env = { PAYMENTSCTL_STATE_DIR: await newStateDir(), PATH: '/nonexistent', JAVA_HOME: undefined };
    const run = await runCli(['stack', 'up'], env);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain('KAFKA_BROKERS');
    const status = await runCli(['stack', 'status', '--json'], env);
    expect(parseJson<StatusJson>(status.stdout).running).toBe(false);
  });

  it('uses DATABASE_URL, KAFKA_BROKERS and STRIPE_API_BASE when given and stops none of them on down', async () => {
    const { kafkaBrokers, adminUrl } = (await import('vitest')).inject('stack');
    const env = {
      PAYMENTSCTL_STATE_DIR: await newStateDir(),
      DATABASE_URL: adminUrl,
      KAFKA_BROKERS: kafkaBrokers,
      STRIPE_API_BASE: 'http://127.0.0.1:12999',
    };
    const up = await runCli(['stack', 'up', '--json'], env);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(parseJson<UpJson>(up.stdout)).toEqual({
      databaseUrl: adminUrl,
      kafkaBrokers,
      stripeApiBase: 'http://127.0.0.1:12999',
      reused: false,
    });
    const down = await runCli(['stack', 'down', '--json'], env);
    expect(parseJson<{ stopped: string[]; left: string[] }>(down.stdout)).toMatchObject({ stopped: [] });
    const admin = createKafka({ brokers: [kafkaBrokers] }).admin();
    await admin.connect();
    await admin.disconnect();
  });
});
