import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { DevSummary } from '../../src/dev/types.js';
import { createKafka } from '../../src/kafka/client.js';
import { stackDown } from '../../src/stack/stack.js';
import { connectClient } from '../../src/db/connect.js';
import { execa } from 'execa';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { BIN, childEnv, parseJson, runCli, type CliResult } from './cli.js';
import { waitFor } from './wait.js';

export interface DevRun extends CliResult {
  summary: DevSummary;
  /** a failing run's error log lines from its roles (dead letters included), read before its state directory goes */
  roleErrors: string;
}

/** What explains a failing run: its roles' error lines, then the end of what it printed. */
export const whyItFailed = (run: DevRun, tail = 6000) => `${run.roleErrors}\n${run.stderr.slice(-tail)}`;

/** The error lines (level 50) of every role log in `logDir`, the newest last, at most `limit` of them. */
async function roleErrorLines(logDir: string, limit = 40): Promise<string> {
  const files = (await readdir(logDir).catch(() => [] as string[])).filter((name) => name.endsWith('.log'));
  const lines: string[] = [];
  for (const name of files) {
    const text = await readFile(join(logDir, name), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line.includes('"level":50')) lines.push(`${name}: ${line.slice(0, 800)}`);
  }
  return lines.length
    ? `role errors (${lines.length}, last ${Math.min(limit, lines.length)}):\n${lines.slice(-limit).join('\n')}`
    : 'no role logged an error';
}

/**
 * Runs `paymentsctl dev` as a child process against the test stack's PostgreSQL and Kafka, with a
 * state directory of its own, so it starts (and stops) a Stripe emulator of its own.
 */
export async function runDevCommand(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<DevRun> {
  const { adminUrl, kafkaBrokers } = inject('stack');
  const stateDir = await mkdtemp(join(tmpdir(), 'paymentsctl-dev-test-'));
  try {
    const result = await runCli(
      ['dev', '--json', ...args],
      { DATABASE_URL: adminUrl, KAFKA_BROKERS: kafkaBrokers, PAYMENTSCTL_STATE_DIR: stateDir, ...options.env },
      { timeoutMs: options.timeoutMs },
    );
    const summary = result.stdout.trim().startsWith('{') ? parseJson<Partial<DevSummary>>(result.stdout) : undefined;
    // An error document (or nothing) instead of a summary: show what the run said.
    if (!summary?.checks)
      throw new Error(`dev printed no summary (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr.slice(-6000)}`);
    const failed = summary.checks.some((c) => !c.ok) || result.exitCode !== 0;
    const roleErrors = failed && summary.where?.logDir ? await roleErrorLines(summary.where.logDir) : '';
    return { ...result, summary: summary as DevSummary, roleErrors };
  } finally {
    // Whatever the run left behind (it should leave nothing) goes with the test.
    await stackDown({ stateDir }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Runs `work` with a client of the test stack's PostgreSQL server and an admin of its broker. */
async function onSharedServers<T>(work: (client: pg.Client, admin: Admin) => Promise<T>): Promise<T> {
  const { adminUrl, kafkaBrokers } = inject('stack');
  const client = await connectClient(adminUrl);
  const admin = createKafka({ brokers: kafkaBrokers.split(',') }).admin();
  try {
    await admin.connect();
    return await work(client, admin);
  } finally {
    await admin.disconnect();
    await client.end();
  }
}

const runTopics = async (admin: Admin, summary: DevSummary) =>
  (await admin.listTopics()).filter((topic) => topic.startsWith(summary.where.topicPrefix));

/** What a finished run left on the shared servers: its database and its topics. */
export async function leftovers(summary: DevSummary): Promise<{ database: boolean; topics: string[] }> {
  return onSharedServers(async (client, admin) => ({
    database: Boolean((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [summary.where.database])).rowCount),
    topics: await runTopics(admin, summary),
  }));
}

/** The lines a failing run's checks printed, to explain an assertion. */
export const failedChecks = (summary: DevSummary) => summary.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

/** A `dev` run that keeps its pipeline running (--keep, --incident) until stopped. */
export interface KeptDevRun {
  summary: DevSummary;
  /** what the run printed for reaching its pipeline: DATABASE_URL, KAFKA_BROKERS, ... */
  variables: Record<string, string>;
  stderr: () => string;
  /** SIGINT, as Ctrl-C: resolves with the exit code once the run has stopped */
  stop: () => Promise<number>;
  /** removes the stack the run started, its database and its topics */
  remove: () => Promise<void>;
}

/** Starts `paymentsctl dev --json` with a state directory of its own; resolves once its pipeline is kept running. */
export async function startKeptDev(args: string[], options: { timeoutMs?: number } = {}): Promise<KeptDevRun> {
  const { adminUrl, kafkaBrokers } = inject('stack');
  const stateDir = await mkdtemp(join(tmpdir(), 'paymentsctl-dev-test-'));
  const child = execa(process.execPath, [BIN, 'dev', '--json', ...args], {
    env: childEnv({ DATABASE_URL: adminUrl, KAFKA_BROKERS: kafkaBrokers, PAYMENTSCTL_STATE_DIR: stateDir }),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    buffer: false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  const exit = child.then((result) => {
    exited = true;
    return result.exitCode ?? -1;
  });
  let summary: DevSummary | undefined;
  const remove = async () => {
    if (!exited) child.kill('SIGKILL');
    await exit;
    await stackDown({ stateDir }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
    if (summary) await dropRunData(summary);
  };
  try {
    await waitFor(
      'dev to keep its pipeline running',
      () => {
        if (exited) throw new Error(`dev exited before keeping its pipeline:\n${stdout}\n${stderr.slice(-6000)}`);
        return /Ctrl-C stops the roles/.test(stderr);
      },
      options.timeoutMs ?? 240_000,
    );
    summary = parseJson<DevSummary>(stdout);
  } catch (error) {
    await remove();
    throw error;
  }
  const variables = Object.fromEntries(
    [...stderr.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, '$1')]),
  );
  return {
    summary,
    variables,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGINT');
      return exit;
    },
    remove,
  };
}

/** Drops a kept run's database and deletes its topics from the shared servers. */
async function dropRunData(summary: DevSummary): Promise<void> {
  await onSharedServers(async (client, admin) => {
    await client.query(`DROP DATABASE IF EXISTS "${summary.where.database}" WITH (FORCE)`);
    const topics = await runTopics(admin, summary);
    if (topics.length) await admin.deleteTopics({ topics });
  });
}
