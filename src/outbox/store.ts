import type pg from 'pg';
import type { OutboxRow } from './envelope.js';

/**
 * The publisher's SQL. Rows are read in id order (= commit order per key, see sql/002); a row
 * that Kafka rejected for good (last_error set) holds back the later rows of its key.
 */
const CLAIM = `
  SELECT o.id::text, o.event_id::text, o.key, o.type, o.payload::text AS payload, o.headers, o.created_at
  FROM outbox o
  WHERE o.topic = $1
    AND o.published_at IS NULL
    AND o.last_error IS NULL
    AND NOT (o.id = ANY($2::bigint[]))
    AND NOT EXISTS (
      SELECT 1 FROM outbox b
      WHERE b.topic = o.topic AND b.key = o.key AND b.id < o.id
        AND b.published_at IS NULL AND b.last_error IS NOT NULL)
  ORDER BY o.id
  LIMIT $3`;

interface ClaimedRow {
  id: string;
  event_id: string;
  key: string;
  type: string;
  payload: string;
  headers: Record<string, string>;
  created_at: Date;
}

/** Reads the next unpublished rows of a topic, skipping those already in flight. */
export async function claimBatch(db: pg.Pool, topic: string, exclude: readonly string[], limit: number): Promise<OutboxRow[]> {
  const result = await db.query<ClaimedRow>(CLAIM, [topic, exclude, limit]);
  return result.rows.map((row) => ({
    id: row.id,
    eventId: row.event_id,
    key: row.key,
    type: row.type,
    payload: row.payload,
    headers: row.headers ?? {},
    createdAt: row.created_at,
  }));
}

export async function markPublished(db: pg.Pool, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query('UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])', [ids]);
}

/** Records a permanent rejection; the row stays unpublished and blocks its key until an operator acts. */
export async function markRejected(db: pg.Pool, id: string, error: string): Promise<void> {
  await db.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1::bigint', [id, error.slice(0, 2000)]);
}

export interface TopicBacklog {
  topic: string;
  unpublished: number;
  blocked: number;
  oldestSeconds: number;
}

/** Backlog per topic, for metrics; reads only the partial indexes' rows. */
export async function backlog(db: pg.Pool, topics: readonly string[]): Promise<TopicBacklog[]> {
  const result = await db.query<{ topic: string; unpublished: string; blocked: string; oldest: number | null }>(
    `SELECT topic,
            count(*)::text AS unpublished,
            count(*) FILTER (WHERE last_error IS NOT NULL)::text AS blocked,
            extract(epoch FROM now() - min(created_at))::float8 AS oldest
     FROM outbox
     WHERE published_at IS NULL AND topic = ANY($1::text[])
     GROUP BY topic`,
    [topics],
  );
  const byTopic = new Map(result.rows.map((row) => [row.topic, row]));
  return topics.map((topic) => {
    const row = byTopic.get(topic);
    return {
      topic,
      unpublished: Number(row?.unpublished ?? 0),
      blocked: Number(row?.blocked ?? 0),
      oldestSeconds: Math.max(0, row?.oldest ?? 0),
    };
  });
}

/** Topics with unpublished rows, by a loose index scan over the partial index. */
export async function unpublishedTopics(db: pg.Pool): Promise<string[]> {
  const result = await db.query<{ topic: string }>(`
    WITH RECURSIVE t AS (
      (SELECT topic FROM outbox WHERE published_at IS NULL ORDER BY topic LIMIT 1)
      UNION ALL
      SELECT (SELECT o.topic FROM outbox o WHERE o.published_at IS NULL AND o.topic > t.topic ORDER BY o.topic LIMIT 1)
      FROM t WHERE t.topic IS NOT NULL)
    SELECT topic FROM t WHERE topic IS NOT NULL`);
  return result.rows.map((row) => row.topic);
}

/**
 * Deletes published rows older than the window, a small batch per statement so no statement
 * holds many row locks or runs long. Returns how many it deleted.
 */
export async function deletePublishedBefore(
  db: pg.Pool,
  topics: readonly string[],
  olderThanMs: number,
  batchSize: number,
  shouldStop: () => boolean,
): Promise<number> {
  let total = 0;
  for (;;) {
    if (shouldStop()) return total;
    // There is no index on published_at (marking would have to maintain it). Ids grow with time,
    // so rows past the window sit at the start of the primary key, before the first row created
    // inside the window: both lookups walk only that old stretch, never the whole table.
    const result = await db.query(
      `WITH cutoff AS (SELECT now() - make_interval(secs => $1::float8 / 1000) AS at),
            boundary AS (
              SELECT coalesce(
                (SELECT o.id FROM outbox o, cutoff WHERE o.created_at >= cutoff.at ORDER BY o.id LIMIT 1),
                9223372036854775807) AS id)
       DELETE FROM outbox WHERE id IN (
         SELECT o.id FROM outbox o, cutoff, boundary
         WHERE o.id < boundary.id
           AND o.published_at IS NOT NULL
           AND o.published_at < cutoff.at
           AND o.topic = ANY($2::text[])
         ORDER BY o.id
         LIMIT $3
         FOR UPDATE OF o SKIP LOCKED)`,
      [olderThanMs, topics, batchSize],
    );
    total += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < batchSize) return total;
  }
}
