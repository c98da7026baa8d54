import type pg from 'pg';
import type { Discrepancy } from '../../payments/decisions/reconcile.js';
import type { RepairOutcome } from './repair.js';

/**
 * Where a window's walk stands (sql/004): a run per window and mode, a row per finished day with
 * what that day found and repaired. A run stopped half way resumes at its first unfinished day;
 * a finished run's days are removed (the repairs stay in reconcile_repairs).
 */

export interface RunRecord {
  id: number;
  since: Date;
  until: Date;
  /** days already walked, by their start (ms), with what they found */
  days: Map<number, { discrepancies: Discrepancy[]; repairs: RepairOutcome[] }>;
  resumed: boolean;
}

export async function openRun(db: pg.Pool, spec: string, mode: string, since: Date, until: Date): Promise<RunRecord> {
  const unfinished = await db.query<{ id: string; since: Date; until: Date }>(
    'SELECT id, since, until FROM reconcile_runs WHERE window_spec = $1 AND mode = $2 AND finished_at IS NULL ORDER BY id DESC LIMIT 1',
    [spec, mode],
  );
  const found = unfinished.rows[0];
  if (found) {
    const days = await db.query<{ day_start: Date; discrepancies: Discrepancy[]; repairs: RepairOutcome[] }>(
      'SELECT day_start, discrepancies, repairs FROM reconcile_days WHERE run_id = $1',
      [found.id],
    );
    return {
      id: Number(found.id),
      since: found.since,
      until: found.until,
      days: new Map(days.rows.map((row) => [row.day_start.getTime(), { discrepancies: row.discrepancies, repairs: row.repairs }])),
      resumed: true,
    };
  }
  const created = await db.query<{ id: string }>(
    'INSERT INTO reconcile_runs (window_spec, mode, since, until) VALUES ($1, $2, $3, $4) RETURNING id',
    [spec, mode, since, until],
  );
  return { id: Number(created.rows[0]!.id), since, until, days: new Map(), resumed: false };
}

export async function finishDay(
  db: pg.Pool,
  runId: number,
  dayStart: Date,
  discrepancies: Discrepancy[],
  repairs: RepairOutcome[],
): Promise<void> {
  await db.query(
    `INSERT INTO reconcile_days (run_id, day_start, discrepancies, repairs) VALUES ($1, $2, $3::jsonb, $4::jsonb)
     ON CONFLICT (run_id, day_start) DO UPDATE SET discrepancies = EXCLUDED.discrepancies, repairs = EXCLUDED.repairs, finished_at = now()`,
    [runId, dayStart, JSON.stringify(discrepancies), JSON.stringify(repairs)],
  );
}

export async function finishRun(db: pg.Pool, runId: number): Promise<void> {
  await db.query('UPDATE reconcile_runs SET finished_at = now() WHERE id = $1', [runId]);
  await db.query('DELETE FROM reconcile_days WHERE run_id = $1', [runId]);
}

/** Where --all starts: the oldest payments row. */
export async function oldestPayment(db: pg.Pool): Promise<Date | undefined> {
  const { rows } = await db.query<{ oldest: Date | null }>('SELECT min(created_at) AS oldest FROM payments');
  return rows[0]?.oldest ?? undefined;
}
