import { loadMigrations } from '../../migrate/files.js';
import { readHistory } from '../../migrate/migrator.js';
import { compareSchema, type SchemaVerdict } from '../../migrate/schema.js';
import type pg from 'pg';
import { Topics } from '../../contracts.js';
import { PUBLISHER_LOCK_NAMESPACE } from '../../db/locks.js';
import { emptyOutcomes } from '../pipeline-reads.js';
import type { PaymentStatus } from '../../payments/status.js';

/** What PostgreSQL says about the outbox, the publishers, payments and webhooks. */

export interface OutboxTopicState {
  topic: string;
  /** unpublished rows still to send */
  unpublished: number;
  /** unpublished rows the publisher set aside (Kafka refused them); they hold back their key */
  setAside: number;
  /** age of the oldest unpublished row, ms */
  oldestUnpublishedMs: number | null;
  /** published rows older than the retention window, not yet deleted */
  pastRetention: number;
}

export interface SetAsideRow {
  id: string;
  topic: string;
  key: string;
  attempts: number;
  lastError: string;
  createdAt: string;
}

export async function outboxState(db: pg.Pool, retainMs: number): Promise<{ topics: OutboxTopicState[]; setAside: SetAsideRow[] }> {
  const [byTopic, rows] = await Promise.all([
    db.query<{ topic: string; unpublished: string; set_aside: string; oldest_ms: string | null; past_retention: string }>(
      `SELECT topic,
              count(*) FILTER (WHERE published_at IS NULL AND last_error IS NULL) AS unpublished,
              count(*) FILTER (WHERE published_at IS NULL AND last_error IS NOT NULL) AS set_aside,
              (extract(epoch FROM now() - min(created_at) FILTER (WHERE published_at IS NULL)) * 1000)::bigint AS oldest_ms,
              count(*) FILTER (WHERE published_at IS NOT NULL AND $1::bigint > 0 AND published_at < now() - $1::bigint * interval '1 millisecond') AS past_retention
         FROM outbox GROUP BY topic ORDER BY topic`,
      [retainMs],
    ),
    db.query<{ id: string; topic: string; key: string; attempts: number; last_error: string; created_at: Date }>(
      `SELECT id::text, topic, key, attempts, last_error, created_at FROM outbox
        WHERE published_at IS NULL AND last_error IS NOT NULL ORDER BY id LIMIT 10`,
    ),
  ]);
  return {
    topics: byTopic.rows.map((r) => ({
      topic: r.topic,
      unpublished: Number(r.unpublished),
      setAside: Number(r.set_aside),
      oldestUnpublishedMs: r.oldest_ms === null ? null : Number(r.oldest_ms),
      pastRetention: Number(r.past_retention),
    })),
    setAside: rows.rows.map((r) => ({
      id: r.id,
      topic: r.topic,
      key: r.key,
      attempts: r.attempts,
      lastError: r.last_error,
      createdAt: r.created_at.toISOString(),
    })),
  };
}

export interface PublisherLeader {
  topic: string;
  /** null: no session holds the topic's lock; nothing publishes it */
  leader: { pid: number; applicationName: string; clientAddress: string | null; connectedSince: string } | null;
}

export interface PublisherState {
  leaders: PublisherLeader[];
  /** publish-outbox sessions connected (leaders and standbys) */
  instances: number;
  /** the last leadership term drawn; each new leader of a topic draws the next */
  latestTerm: string | null;
}

/**
 * Who leads each topic: the session holding its advisory lock (pg_locks), with what that session
 * says about itself (pg_stat_activity). The lock's key is hashtext(topic) as an oid.
 */
export async function publisherState(db: pg.Pool, topics: readonly string[]): Promise<PublisherState> {
  const [leaders, instances, term] = await Promise.all([
    db.query<{
      topic: string;
      pid: number | null;
      application_name: string | null;
      client_addr: string | null;
      backend_start: Date | null;
    }>(
      `SELECT t AS topic, a.pid, a.application_name, host(a.client_addr) AS client_addr, a.backend_start
         FROM unnest($2::text[]) AS t
         LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
              AND l.classid = $1::bigint::oid
              AND l.objid = ((hashtext(t)::bigint + 4294967296) % 4294967296)::oid
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        ORDER BY t`,
      [PUBLISHER_LOCK_NAMESPACE, [...topics]],
    ),
    db.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'paymentsctl publish-outbox (leadership)'`,
    ),
    db.query<{ last_value: string; is_called: boolean }>('SELECT last_value::text, is_called FROM outbox_leader_term'),
  ]);
  const t = term.rows[0];
  return {
    leaders: leaders.rows.map((r) => ({
      topic: r.topic,
      leader:
        r.pid === null
          ? null
          : {
              pid: r.pid,
              applicationName: r.application_name ?? '',
              clientAddress: r.client_addr,
              connectedSince: r.backend_start?.toISOString() ?? '',
            },
    })),
    instances: Number(instances.rows[0]?.n ?? 0),
    latestTerm: t?.is_called ? t.last_value : null,
  };
}

/** The topics a publisher should lead: the pipeline's, and any other the outbox still has rows for. */
export function expectedPublisherTopics(outboxTopics: readonly OutboxTopicState[]): string[] {
  const waiting = outboxTopics.filter((t) => t.unpublished + t.setAside > 0).map((t) => t.topic);
  return [...new Set([...Object.values(Topics), ...waiting])].sort();
}

export interface StuckPayment {
  aggregateId: string;
  status: PaymentStatus;
  /** since its last change, ms */
  ageMs: number;
}

export interface PaymentsState {
  byStatus: Record<PaymentStatus, number>;
  /** pending or requires_action for longer than the threshold, oldest first (at most 10) */
  stuck: StuckPayment[];
  stuckCount: number;
}

export async function paymentsState(db: pg.Pool, stuckAfterMs: number): Promise<PaymentsState> {
  const [counts, stuck] = await Promise.all([
    db.query<{ status: PaymentStatus; n: string }>('SELECT status, count(*) AS n FROM payments GROUP BY status'),
    db.query<{ aggregate_id: string; status: PaymentStatus; age_ms: string; total: string }>(
      `SELECT aggregate_id, status, (extract(epoch FROM now() - updated_at) * 1000)::bigint AS age_ms, count(*) OVER () AS total
         FROM payments WHERE status IN ('pending', 'requires_action') AND updated_at < now() - $1::bigint * interval '1 millisecond'
        ORDER BY updated_at LIMIT 10`,
      [stuckAfterMs],
    ),
  ]);
  const byStatus = emptyOutcomes();
  for (const row of counts.rows) byStatus[row.status] = Number(row.n);
  return {
    byStatus,
    stuck: stuck.rows.map((r) => ({ aggregateId: r.aggregate_id, status: r.status, ageMs: Number(r.age_ms) })),
    stuckCount: Number(stuck.rows[0]?.total ?? 0),
  };
}

export interface WebhooksState {
  /** age of the last Stripe event received, ms; null when none ever was */
  lastReceivedAgeMs: number | null;
  lastHourByType: Record<string, number>;
}

export async function webhooksState(db: pg.Pool): Promise<WebhooksState> {
  const [last, byType] = await Promise.all([
    db.query<{ age_ms: string | null }>(
      'SELECT (extract(epoch FROM now() - max(received_at)) * 1000)::bigint AS age_ms FROM webhook_events',
    ),
    db.query<{ type: string; n: string }>(
      "SELECT type, count(*) AS n FROM webhook_events WHERE received_at > now() - interval '1 hour' GROUP BY type ORDER BY type",
    ),
  ]);
  const age = last.rows[0]?.age_ms;
  return {
    lastReceivedAgeMs: age === null || age === undefined ? null : Number(age),
    lastHourByType: Object.fromEntries(byType.rows.map((r) => [r.type, Number(r.n)])),
  };
}

/** A dead-letter partition's offsets as status saw them: what is still on the topic. */
export interface DeadLetterRange {
  topic: string;
  partition: number;
  low: bigint;
  high: bigint;
}

/** Per dead-letter topic, how many of the messages still on it `replay dlq` has put back (an acknowledged copy). */
export async function replayedDeadLetters(db: pg.Pool, ranges: readonly DeadLetterRange[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!ranges.length) return counts;
  const { rows } = await db.query<{ topic: string; replayed: number }>(
    `SELECT m.source_topic AS topic, count(DISTINCT (m.source_partition, m.source_offset))::int AS replayed
       FROM replay_messages m
       JOIN unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS r(topic, partition, low, high)
         ON m.source_topic = r.topic AND m.source_partition = r.partition AND m.source_offset >= r.low AND m.source_offset < r.high
      WHERE m.status = 'sent'
      GROUP BY 1`,
    [ranges.map((r) => r.topic), ranges.map((r) => r.partition), ranges.map((r) => r.low.toString()), ranges.map((r) => r.high.toString())],
  );
  for (const row of rows) counts.set(row.topic, row.replayed);
  return counts;
}

/** The database's migration history against the files this binary ships. */
export async function schemaState(pool: pg.Pool): Promise<SchemaVerdict> {
  const files = await loadMigrations();
  const client = await pool.connect();
  try {
    return compareSchema(files, await readHistory(client));
  } finally {
    client.release();
  }
}
