import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { DevSummary } from '../../src/dev/types.js';
import { createKafka } from '../../src/kafka/client.js';
import { stackDown } from '../../src/stack/stack.js';
import { connectClient } from '../../src/db/connect.js';
import { parseJson, runCli, type CliResult } from './cli.js';

export interface DevRun extends CliResult {
  summary: DevSummary;
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
    return { ...result, summary: summary as DevSummary };
  } finally {
    // Whatever the run left behind (it should leave nothing) goes with the test.
    await stackDown({ stateDir }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** What a finished run left on the shared servers: its database and its topics. */
export async function leftovers(summary: DevSummary): Promise<{ database: boolean; topics: string[] }> {
  const { adminUrl, kafkaBrokers } = inject('stack');
  const client = await connectClient(adminUrl);
  let database: boolean;
  try {
    database = Boolean((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [summary.where.database])).rowCount);
  } finally {
    await client.end();
  }
  const admin = createKafka({ brokers: kafkaBrokers.split(',') }).admin();
  await admin.connect();
  try {
    return { database, topics: (await admin.listTopics()).filter((topic) => topic.startsWith(summary.where.topicPrefix)) };
  } finally {
    await admin.disconnect();
  }
}

/** The lines a failing run's checks printed, to explain an assertion. */
export const failedChecks = (summary: DevSummary) => summary.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
