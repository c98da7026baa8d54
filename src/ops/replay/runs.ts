import { OperationError, UnavailableError, UsageError, errorMessage } from '../../errors.js';
import { createPool, describeTarget } from '../../db/connect.js';
import { listReplays, readReplay, type ReplayMessageRow, type ReplayRun } from './store.js';

async function withReplayTables<T>(url: string, work: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const pool = createPool(url, { max: 1, applicationName: 'paymentsctl-replay' });
  try {
    return await work(pool);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code === '42P01')
      throw new OperationError(`the replay tables are missing in ${describeTarget(url)}`, {
        hint: 'apply the migrations first: paymentsctl migrate',
        cause: error,
      });
    if (error instanceof UsageError) throw error;
    if (
      ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '3D000', '28P01'].includes(code) ||
      /connect|timeout/i.test(errorMessage(error))
    )
      throw new UnavailableError(`cannot reach PostgreSQL at ${describeTarget(url)}: ${errorMessage(error)}`, {
        hint: 'check DATABASE_URL and that PostgreSQL is up',
        cause: error,
      });
    throw error;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** The latest replay runs, newest first. */
export function listReplayRuns(databaseUrl: string, limit: number): Promise<ReplayRun[]> {
  return withReplayTables(databaseUrl, (pool) => listReplays(pool, limit));
}

/** One run and every message it sent or tried to. */
export function showReplayRun(databaseUrl: string, id: string): Promise<{ run: ReplayRun; messages: ReplayMessageRow[] }> {
  if (!/^\d{1,18}$/.test(id)) throw new UsageError(`a replay id is a number (see replay list), got "${id}"`);
  return withReplayTables(databaseUrl, async (pool) => {
    const found = await readReplay(pool, id);
    if (!found) throw new UsageError(`there is no replay ${id}`, { hint: 'paymentsctl replay list shows the runs' });
    return found;
  });
}
