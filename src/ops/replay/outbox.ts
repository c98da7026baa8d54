import type pg from 'pg';
import { UsageError } from '../../errors.js';
import { createPool, withTransactionClient } from '../../db/connect.js';
import type { Logger } from '../../log.js';
import { requireCurrentSchema } from '../../migrate/schema-gate.js';
import { postgresReachable } from './reachable.js';
import { closeReplay, openReplay } from './store.js';

export interface OutboxReplayOptions {
  databaseUrl: string;
  /** outbox topics (as the application wrote them); empty: all */
  topics: string[];
  eventIds: string[];
  limit?: number;
  /** discard the selected rows instead of resetting them; needs `reason` */
  discard: boolean;
  reason?: string;
  execute: boolean;
  log: Logger;
}

export interface SetAsideRow {
  id: string;
  eventId: string;
  topic: string;
  key: string;
  type: string;
  attempts: number;
  error: string;
  createdAt: string;
}

export interface OutboxReplayReport {
  mode: 'plan' | 'execute';
  action: 'reset' | 'discard';
  replayId?: string;
  rows: SetAsideRow[];
  /** rows reset or discarded by this run (another run or the publisher may have taken some first) */
  done: number;
  exitCode: 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function setAside(db: pg.Pool | pg.PoolClient, options: OutboxReplayOptions, lock = false): Promise<SetAsideRow[]> {
  const { rows } = await db.query<{
    id: string;
    event_id: string;
    topic: string;
    key: string;
    type: string;
    attempts: number;
    last_error: string;
    created_at: Date;
  }>(
    `SELECT id::text, event_id::text, topic, key, type, attempts, last_error, created_at FROM outbox
      WHERE published_at IS NULL AND last_error IS NOT NULL
        AND (cardinality($1::text[]) = 0 OR topic = ANY($1::text[]))
        AND (cardinality($2::uuid[]) = 0 OR event_id = ANY($2::uuid[]))
      ORDER BY id LIMIT $3 ${lock ? 'FOR UPDATE' : ''}`,
    [options.topics, options.eventIds, options.limit ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    topic: r.topic,
    key: r.key,
    type: r.type,
    attempts: r.attempts,
    error: r.last_error,
    createdAt: r.created_at.toISOString(),
  }));
}

/**
 * Outbox rows the publisher set aside (Kafka would not take them): listed with their errors; with
 * `execute` reset so the publisher sends them again once the cause is fixed, or with `discard`
 * moved whole to outbox_discarded with the reason. Either way one transaction also writes the
 * audit rows, and only rows still set aside are touched.
 */
export async function replayOutbox(options: OutboxReplayOptions): Promise<OutboxReplayReport> {
  const bad = options.eventIds.find((id) => !UUID.test(id));
  if (bad !== undefined) throw new UsageError(`--event-id takes an outbox event id (a uuid), got "${bad}"`);
  if (options.discard && !options.reason?.trim()) throw new UsageError('--discard needs --reason TEXT: it is kept with the discarded rows');
  if (!options.discard && options.reason !== undefined) throw new UsageError('--reason goes with --discard');
  await requireCurrentSchema(options.databaseUrl, options.log);
  const action = options.discard ? 'discard' : 'reset';
  const pool = createPool(options.databaseUrl, { max: 2, applicationName: 'paymentsctl-replay' });
  try {
    const rows = await postgresReachable(options.databaseUrl, () => setAside(pool, options));
    const report: OutboxReplayReport = { mode: options.execute ? 'execute' : 'plan', action, rows, done: 0, exitCode: 0 };
    if (!options.execute || !rows.length) return report;
    const selection = {
      topics: options.topics,
      eventIds: options.eventIds,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      action,
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
    };
    const replayId = await postgresReachable(options.databaseUrl, () => openReplay(pool, 'outbox', selection, rows.length));
    report.replayId = replayId;
    const done = await postgresReachable(options.databaseUrl, () =>
      withTransactionClient(pool, async (client) => {
        await client.query('BEGIN');
        const ids = (await setAside(client, { ...options, eventIds: rows.map((r) => r.eventId), limit: undefined }, true)).map((r) => r.id);
        await client.query(
          `INSERT INTO replay_outbox_rows (replay_id, outbox_id, event_id, topic, key, action, previous_error)
           SELECT $1, id, event_id, topic, key, $3, last_error FROM outbox WHERE id = ANY($2::bigint[])`,
          [replayId, ids, action],
        );
        if (action === 'reset') {
          // attempts stay: they are the row's history; last_error cleared is what the publisher looks at.
          await client.query('UPDATE outbox SET last_error = NULL WHERE id = ANY($1::bigint[])', [ids]);
        } else {
          await client.query(
            `INSERT INTO outbox_discarded (id, event_id, topic, key, type, payload, headers, created_at, attempts, last_error, reason, replay_id)
             SELECT id, event_id, topic, key, type, payload, headers, created_at, attempts, last_error, $2, $3 FROM outbox WHERE id = ANY($1::bigint[])`,
            [ids, options.reason, replayId],
          );
          await client.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
        }
        await client.query('COMMIT');
        return ids.length;
      }),
    );
    report.done = done;
    await postgresReachable(options.databaseUrl, () =>
      closeReplay(pool, replayId, 'completed', { selected: rows.length, replayed: done, skipped: rows.length - done, failed: 0 }),
    );
    return report;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
