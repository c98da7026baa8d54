import { UsageError } from '../../errors.js';
import { createPool } from '../../db/connect.js';
import { postgresReachable } from './reachable.js';
import { listReplays, readReplay, type ReplayDetail, type ReplayRun } from './store.js';

async function withReplayTables<T>(url: string, work: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const pool = createPool(url, { max: 1, applicationName: 'paymentsctl-replay' });
  try {
    return await postgresReachable(url, () => work(pool));
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** The latest replay runs, newest first. */
export function listReplayRuns(databaseUrl: string, limit: number): Promise<ReplayRun[]> {
  return withReplayTables(databaseUrl, (pool) => listReplays(pool, limit));
}

/** One run and every message it sent or tried to. */
export function showReplayRun(databaseUrl: string, id: string): Promise<ReplayDetail> {
  if (!/^\d{1,18}$/.test(id)) throw new UsageError(`a replay id is a number (see replay list), got "${id}"`);
  return withReplayTables(databaseUrl, async (pool) => {
    const found = await readReplay(pool, id);
    if (!found) throw new UsageError(`there is no replay ${id}`, { hint: 'paymentsctl replay list shows the runs' });
    return found;
  });
}
