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
  /** re-publish events already published (by event id or created time) instead of set-aside rows */
  published: boolean;
  /** with `published`: created at or after / before, ms since the epoch */
  sinceMs?: number;
  untilMs?: number;
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
  error: string | null;
  createdAt: string;
  publishedAt: string | null;
}

export interface OutboxReplayReport {
  mode: 'plan' | 'execute';
  action: 'reset' | 'discard' | 'republish';
  replayId?: string;
  rows: SetAsideRow[];
  /** rows reset or discarded by this run (another run or the publisher may have taken some first) */
  done: number;
  exitCode: 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The rows a run acts on: set aside (unpublished, with an error), or with `published` already published. */
async function selectRows(db: pg.Pool | pg.PoolClient, options: OutboxReplayOptions, lock = false): Promise<SetAsideRow[]> {
  const state = options.published ? 'published_at IS NOT NULL' : 'published_at IS NULL AND last_error IS NOT NULL';
  const { rows } = await db.query<{
    id: string;
    event_id: string;
    topic: string;
    key: string;
    type: string;
    attempts: number;
    last_error: string | null;
    created_at: Date;
    published_at: Date | null;
  }>(
    `SELECT id::text, event_id::text, topic, key, type, attempts, last_error, created_at, published_at FROM outbox
      WHERE ${state}
        AND (cardinality($1::text[]) = 0 OR topic = ANY($1::text[]))
        AND (cardinality($2::uuid[]) = 0 OR event_id = ANY($2::uuid[]))
        AND ($4::timestamptz IS NULL OR created_at >= $4)
        AND ($5::timestamptz IS NULL OR created_at <= $5)
      ORDER BY id LIMIT $3 ${lock ? 'FOR UPDATE' : ''}`,
    [
      options.topics,
      options.eventIds,
      options.limit ?? null,
      options.sinceMs === undefined ? null : new Date(options.sinceMs),
      options.untilMs === undefined ? null : new Date(options.untilMs),
    ],
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
    publishedAt: r.published_at?.toISOString() ?? null,
  }));
}

/**
 * Outbox rows the publisher set aside (Kafka would not take them): listed with their errors; with
 * `execute` reset so the publisher sends them again once the cause is fixed, or with `discard`
 * moved whole to outbox_discarded with the reason. With `published`, events already published are
 * marked unpublished so the publisher sends them again (same event id) for a downstream that lost
 * data. Each time one transaction also writes the audit rows, and only rows still in the selected
 * state are touched.
 */
export async function replayOutbox(options: OutboxReplayOptions): Promise<OutboxReplayReport> {
  const bad = options.eventIds.find((id) => !UUID.test(id));
  if (bad !== undefined) throw new UsageError(`--event-id takes an outbox event id (a uuid), got "${bad}"`);
  if (options.discard && !options.reason?.trim()) throw new UsageError('--discard needs --reason TEXT: it is kept with the discarded rows');
  if (!options.discard && options.reason !== undefined) throw new UsageError('--reason goes with --discard');
  if (options.published && options.discard) throw new UsageError('--published re-sends events; it does not go with --discard');
  if (options.published && !options.eventIds.length && options.sinceMs === undefined && options.untilMs === undefined)
    throw new UsageError('--published needs --event-id or --since/--until: which published events to send again');
  if (!options.published && (options.sinceMs !== undefined || options.untilMs !== undefined))
    throw new UsageError('--since/--until go with --published (set-aside rows are chosen by --topic, --event-id, --limit)');
  await requireCurrentSchema(options.databaseUrl, options.log);
  const action = options.published ? 'republish' : options.discard ? 'discard' : 'reset';
  const pool = createPool(options.databaseUrl, { max: 2, applicationName: 'paymentsctl-replay' });
  try {
    const rows = await postgresReachable(options.databaseUrl, () => selectRows(pool, options));
    const report: OutboxReplayReport = { mode: options.execute ? 'execute' : 'plan', action, rows, done: 0, exitCode: 0 };
    if (!options.execute || !rows.length) return report;
    const selection = {
      topics: options.topics,
      eventIds: options.eventIds,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      action,
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      ...(options.sinceMs !== undefined ? { since: new Date(options.sinceMs).toISOString() } : {}),
      ...(options.untilMs !== undefined ? { until: new Date(options.untilMs).toISOString() } : {}),
    };
    const replayId = await postgresReachable(options.databaseUrl, () => openReplay(pool, 'outbox', selection, rows.length));
    report.replayId = replayId;
    const done = await postgresReachable(options.databaseUrl, () =>
      withTransactionClient(pool, async (client) => {
        await client.query('BEGIN');
        const ids = (await selectRows(client, { ...options, eventIds: rows.map((r) => r.eventId), limit: undefined }, true)).map(
          (r) => r.id,
        );
        await client.query(
          `INSERT INTO replay_outbox_rows (replay_id, outbox_id, event_id, topic, key, action, previous_error, previous_published_at)
           SELECT $1, id, event_id, topic, key, $3, last_error, published_at FROM outbox WHERE id = ANY($2::bigint[])`,
          [replayId, ids, action],
        );
        if (action === 'republish') {
          // Unpublished again, same row and event id: the publisher sends it with the same ce_id,
          // in id order among its key's unpublished events; inboxes that have it drop it.
          await client.query('UPDATE outbox SET published_at = NULL, last_error = NULL WHERE id = ANY($1::bigint[])', [ids]);
        } else if (action === 'reset') {
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
