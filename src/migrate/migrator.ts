import type pg from 'pg';
import { ExitCode, MigrationDriftError, OperationError, UnavailableError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { connectClient, databaseName, describeTarget } from '../db/connect.js';
import { LOCK_NAMESPACE, LockKey } from '../db/locks.js';
import type { MigrationFile } from './files.js';

export const HISTORY_TABLE = 'paymentsctl_migrations';

export type MigrateMode = 'apply' | 'status' | 'dry-run';

export interface MigrationReport {
  database: string;
  /** host:port/database, never credentials */
  target: string;
  ok: boolean;
  /** apply: files this run applied; status and dry-run: files already applied */
  applied: string[];
  /** files not applied (after an apply run: those left because of an error) */
  pending: string[];
  error?: string;
  /** the database could not be reached at all (nothing was read or changed) */
  unreachable?: boolean;
  /** dry-run only: the SQL that would run, per pending file */
  sql?: Record<string, string>;
}

export interface MigrateOptions {
  mode: MigrateMode;
  /** how long to wait for another migrator's lock before giving up */
  lockTimeoutMs?: number;
  log?: Logger;
}

interface HistoryRow {
  name: string;
  checksum: string;
}

/** The applied migrations in order; undefined when the history table does not exist. */
export async function readHistory(client: pg.ClientBase): Promise<HistoryRow[] | undefined> {
  const exists = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [HISTORY_TABLE]);
  if (!exists.rows[0]?.present) return undefined;
  const result = await client.query<HistoryRow>(`SELECT name, checksum FROM ${HISTORY_TABLE} ORDER BY version`);
  return result.rows;
}

/** Refuses to go on when a file that was applied has changed since: the database no longer matches it. */
function checkDrift(files: MigrationFile[], history: HistoryRow[]): void {
  const byName = new Map(files.map((file) => [file.name, file]));
  const drifted = history.filter((row) => {
    const file = byName.get(row.name);
    return file !== undefined && file.checksum !== row.checksum;
  });
  if (drifted.length) {
    throw new MigrationDriftError(
      `applied migration${drifted.length > 1 ? 's' : ''} changed since applied: ${drifted.map((row) => row.name).join(', ')}`,
      { hint: 'never edit an applied migration; restore the original file and add a new numbered migration for the change' },
    );
  }
}

function pendingOf(files: MigrationFile[], history: HistoryRow[]): MigrationFile[] {
  const done = new Set(history.map((row) => row.name));
  return files.filter((file) => !done.has(file.name));
}

async function ensureHistoryTable(client: pg.Client): Promise<void> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
      version     integer     PRIMARY KEY,
      name        text        NOT NULL UNIQUE,
      checksum    text        NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now(),
      duration_ms integer     NOT NULL
    )`);
}

async function applyFile(client: pg.Client, file: MigrationFile): Promise<void> {
  const started = Date.now();
  await client.query('BEGIN');
  try {
    await client.query(file.sql);
    await client.query(`INSERT INTO ${HISTORY_TABLE} (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)`, [
      file.version,
      file.name,
      file.checksum,
      Date.now() - started,
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    const position = (error as { position?: string }).position;
    const line = position ? ` (line ${file.sql.slice(0, Number(position)).split('\n').length})` : '';
    throw new OperationError(`${file.name} failed${line}: ${errorMessage(error)}; nothing of it was applied`, { cause: error });
  }
}

async function withMigrationLock<T>(client: pg.Client, lockTimeoutMs: number, fn: () => Promise<T>): Promise<T> {
  await client.query(`SET lock_timeout = ${Math.max(0, Math.floor(lockTimeoutMs))}`);
  try {
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LockKey.migrate]);
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      throw new OperationError(`another migration held the lock for more than ${lockTimeoutMs} ms`, {
        hint: 'wait for it to finish, or raise --lock-timeout',
        cause: error,
      });
    }
    throw error;
  }
  // Each file runs with no lock_timeout of ours: it is the author's DDL, not a wait on a peer.
  await client.query('SET lock_timeout = 0');
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LockKey.migrate]).catch(() => undefined);
  }
}

/**
 * Migrates one database. Never throws for the database's own problems: they are reported in the
 * returned report, so one tenant's failure does not stop the others.
 */
export async function migrateDatabase(url: string, files: MigrationFile[], options: MigrateOptions): Promise<MigrationReport> {
  const report: MigrationReport = {
    database: databaseName(url),
    target: describeTarget(url),
    ok: false,
    applied: [],
    pending: files.map((f) => f.name),
  };
  let client: pg.Client | undefined;
  try {
    client = await connectClient(url, { applicationName: 'paymentsctl migrate' });
    if (options.mode === 'apply') {
      const c = client;
      await withMigrationLock(c, options.lockTimeoutMs ?? 60_000, async () => {
        await ensureHistoryTable(c);
        const history = (await readHistory(c)) ?? [];
        const pending = pendingOf(files, history);
        report.pending = pending.map((f) => f.name);
        checkDrift(files, history);
        for (const file of pending) {
          options.log?.info({ database: report.target, migration: file.name }, 'applying migration');
          await applyFile(c, file);
          report.applied.push(file.name);
          report.pending.shift();
        }
      });
    } else {
      const history = (await readHistory(client)) ?? [];
      report.applied = history.map((row) => row.name);
      const pending = pendingOf(files, history);
      report.pending = pending.map((f) => f.name);
      if (options.mode === 'dry-run') report.sql = Object.fromEntries(pending.map((f) => [f.name, f.sql]));
      checkDrift(files, history);
    }
    report.ok = true;
  } catch (error) {
    report.error = errorMessage(error);
    if (error instanceof UnavailableError) report.unreachable = true;
    options.log?.error({ database: report.target, error: report.error }, 'migration failed');
  } finally {
    await client?.end().catch(() => undefined);
  }
  return report;
}

/** Every database unreachable is an outage (exit 3); any other failure, or a mix, is a failed run (1). */
export function migrationExitCode(reports: readonly MigrationReport[]): ExitCode {
  if (reports.every((report) => report.ok)) return ExitCode.ok;
  return reports.every((report) => report.unreachable) ? ExitCode.unavailable : ExitCode.failed;
}

/** Migrates several databases (per-tenant), a few at a time, each reported on its own. */
export async function migrateDatabases(
  urls: string[],
  files: MigrationFile[],
  options: MigrateOptions & { concurrency?: number },
): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = new Array(urls.length);
  let next = 0;
  const worker = async () => {
    while (next < urls.length) {
      const index = next++;
      reports[index] = await migrateDatabase(urls[index]!, files, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, urls.length) }, worker));
  return reports;
}
