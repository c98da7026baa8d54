// A throwaway stack for a benchmark run: the same launcher as `paymentsctl stack up`, in a state
// directory of its own, torn down at the end.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stackUp, stackDown } from '../dist/stack/stack.js';
import { ensureDatabase, dropDatabase } from '../dist/db/databases.js';
import { withDatabase } from '../dist/db/connect.js';
import { loadMigrations } from '../dist/migrate/files.js';
import { migrateDatabase } from '../dist/migrate/migrator.js';
import { createLogger } from '../dist/log.js';

export async function withBenchStack(fn) {
  const stateDir = await mkdtemp(join(tmpdir(), 'paymentsctl-bench-'));
  const log = createLogger({ level: 'warn', pretty: false });
  // A throwaway cluster with fsync off (what `stack up --fresh-postgres` makes): the figures are
  // the publisher's, not this disk's flush latency (see the README on NOTIFY and commit rate).
  const info = await stackUp({ stateDir, log, timeoutMs: 120_000, freshPostgres: true, stripeEmulator: false });
  const databases = [];
  const newDatabase = async () => {
    const name = `bench_${randomBytes(4).toString('hex')}`;
    await ensureDatabase(info.databaseUrl, name);
    const url = withDatabase(info.databaseUrl, name);
    const report = await migrateDatabase(url, await loadMigrations(), { mode: 'apply' });
    if (!report.ok) throw new Error(report.error);
    databases.push(name);
    return url;
  };
  try {
    return await fn({
      brokers: info.kafkaBrokers,
      newDatabase,
      kafkaVersion: info.state.kafka.managed?.version ?? 'external',
      // for CPU accounting (bench/_cpu.js): the broker JVM and PostgreSQL's postmaster
      pids: { kafka: info.state.kafka.managed?.pid, postgres: info.state.postgres.managed?.pid },
      postgres: 'throwaway cluster (initdb), fsync=off',
    });
  } finally {
    for (const name of databases) await dropDatabase(info.databaseUrl, name).catch(() => undefined);
    await stackDown({ stateDir, log });
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function machine() {
  return { cpus: cpus().length, node: process.version };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
