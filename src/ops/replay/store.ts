import { hostname, userInfo } from 'node:os';
import type pg from 'pg';

export type ReplaySource = 'dlq' | 'outbox' | 'stripe-events';
export type ReplayStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface ReplayCounts {
  selected: number;
  replayed: number;
  skipped: number;
  failed: number;
}

export interface ReplayRun extends ReplayCounts {
  id: string;
  source: ReplaySource;
  osUser: string;
  host: string;
  selection: unknown;
  status: ReplayStatus;
  startedAt: string;
  finishedAt: string | null;
}

export interface ReplayMessageRow {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  eventId: string | null;
  destinationTopic: string;
  destinationPartition: number | null;
  destinationOffset: string | null;
  status: 'sending' | 'sent' | 'failed';
  error: string | null;
  recordedAt: string;
}

function whoRuns(): { user: string; host: string } {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid (a container): the environment's word will do
  }
  return { user, host: hostname() };
}

export async function openReplay(pool: pg.Pool, source: ReplaySource, selection: unknown, selected: number): Promise<string> {
  const who = whoRuns();
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO replays (source, os_user, host, selection, status, selected) VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id::text`,
    [source, who.user, who.host, JSON.stringify(selection), selected],
  );
  return rows[0]!.id;
}

export async function closeReplay(pool: pg.Pool, id: string, status: ReplayStatus, counts: ReplayCounts): Promise<void> {
  await pool.query(
    `UPDATE replays SET status = $2, selected = $3, replayed = $4, skipped = $5, failed = $6, finished_at = now() WHERE id = $1`,
    [id, status, counts.selected, counts.replayed, counts.skipped, counts.failed],
  );
}

export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
}

/** How many acknowledged copies each of these dead letters has, by `topic/partition/offset`. */
export async function replayedCounts(pool: pg.Pool, positions: readonly SourcePosition[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!positions.length) return counts;
  const { rows } = await pool.query<{ topic: string; partition: number; offset: string; copies: number }>(
    `SELECT m.source_topic AS topic, m.source_partition AS partition, m.source_offset::text AS offset, count(*)::int AS copies
       FROM replay_messages m
       JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS p(topic, partition, "offset")
         ON m.source_topic = p.topic AND m.source_partition = p.partition AND m.source_offset = p."offset"
      WHERE m.status = 'sent'
      GROUP BY 1, 2, 3`,
    [positions.map((p) => p.topic), positions.map((p) => p.partition), positions.map((p) => p.offset)],
  );
  for (const row of rows) counts.set(`${row.topic}/${row.partition}/${row.offset}`, row.copies);
  return counts;
}

/** Written before the send: a run killed between send and acknowledgement leaves this trace. */
export async function recordSending(
  pool: pg.Pool,
  replayId: string,
  source: SourcePosition,
  eventId: string | undefined,
  destinationTopic: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO replay_messages (replay_id, source_topic, source_partition, source_offset, event_id, destination_topic, status)
     VALUES ($1, $2, $3, $4, $5, $6, 'sending')`,
    [replayId, source.topic, source.partition, source.offset, eventId ?? null, destinationTopic],
  );
}

export async function recordOutcome(
  pool: pg.Pool,
  replayId: string,
  source: SourcePosition,
  outcome: { sent: { partition: number; offset: string } } | { error: string },
): Promise<void> {
  const sent = 'sent' in outcome ? outcome.sent : undefined;
  await pool.query(
    `UPDATE replay_messages SET status = $5, destination_partition = $6, destination_offset = $7, error = $8, recorded_at = now()
      WHERE replay_id = $1 AND source_topic = $2 AND source_partition = $3 AND source_offset = $4`,
    [
      replayId,
      source.topic,
      source.partition,
      source.offset,
      sent ? 'sent' : 'failed',
      sent?.partition ?? null,
      sent?.offset ?? null,
      'error' in outcome ? outcome.error : null,
    ],
  );
}

const RUN_COLUMNS = `id::text, source, os_user, host, selection, status, selected, replayed, skipped, failed, started_at, finished_at`;

type RunRow = {
  id: string;
  source: ReplaySource;
  os_user: string;
  host: string;
  selection: unknown;
  status: ReplayStatus;
  selected: number;
  replayed: number;
  skipped: number;
  failed: number;
  started_at: Date;
  finished_at: Date | null;
};

const toRun = (row: RunRow): ReplayRun => ({
  id: row.id,
  source: row.source,
  osUser: row.os_user,
  host: row.host,
  selection: row.selection,
  status: row.status,
  selected: row.selected,
  replayed: row.replayed,
  skipped: row.skipped,
  failed: row.failed,
  startedAt: row.started_at.toISOString(),
  finishedAt: row.finished_at?.toISOString() ?? null,
});

export async function listReplays(pool: pg.Pool, limit: number): Promise<ReplayRun[]> {
  const { rows } = await pool.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM replays ORDER BY started_at DESC, id DESC LIMIT $1`, [limit]);
  return rows.map(toRun);
}

/** What a stripe-events run did with one Stripe event (replay_stripe_events). */
export interface ReplayStripeEventRow {
  eventId: string;
  type: string;
  created: string;
  action: 'feed' | 'resend';
  outcome: string;
  error: string | null;
  recordedAt: string;
}

export interface ReplayDetail {
  run: ReplayRun;
  messages: ReplayMessageRow[];
  /** for a stripe-events run: each event it fed or resent */
  stripeEvents?: ReplayStripeEventRow[];
}

async function readStripeEvents(pool: pg.Pool, id: string): Promise<ReplayStripeEventRow[]> {
  const { rows } = await pool.query<{
    event_id: string;
    type: string;
    created: Date;
    action: 'feed' | 'resend';
    outcome: string;
    error: string | null;
    recorded_at: Date;
  }>(
    `SELECT event_id, type, created, action, outcome, error, recorded_at FROM replay_stripe_events
      WHERE replay_id = $1 ORDER BY created, recorded_at`,
    [id],
  );
  return rows.map((r) => ({
    eventId: r.event_id,
    type: r.type,
    created: r.created.toISOString(),
    action: r.action,
    outcome: r.outcome,
    error: r.error,
    recordedAt: r.recorded_at.toISOString(),
  }));
}

export async function readReplay(pool: pg.Pool, id: string): Promise<ReplayDetail | undefined> {
  const runs = await pool.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM replays WHERE id = $1`, [id]);
  if (!runs.rows[0]) return undefined;
  const { rows } = await pool.query<{
    source_topic: string;
    source_partition: number;
    source_offset: string;
    event_id: string | null;
    destination_topic: string;
    destination_partition: number | null;
    destination_offset: string | null;
    status: ReplayMessageRow['status'];
    error: string | null;
    recorded_at: Date;
  }>(
    `SELECT source_topic, source_partition, source_offset::text, event_id, destination_topic, destination_partition,
            destination_offset::text, status, error, recorded_at
       FROM replay_messages WHERE replay_id = $1 ORDER BY source_topic, source_partition, source_offset`,
    [id],
  );
  const run = toRun(runs.rows[0]);
  return {
    run,
    ...(run.source === 'stripe-events' ? { stripeEvents: await readStripeEvents(pool, id) } : {}),
    messages: rows.map((row) => ({
      sourceTopic: row.source_topic,
      sourcePartition: row.source_partition,
      sourceOffset: row.source_offset,
      eventId: row.event_id,
      destinationTopic: row.destination_topic,
      destinationPartition: row.destination_partition,
      destinationOffset: row.destination_offset,
      status: row.status,
      error: row.error,
      recordedAt: row.recorded_at.toISOString(),
    })),
  };
}

export interface UnacknowledgedSend {
  replayId: string;
  source: SourcePosition;
  destinationTopic: string;
  recordedAt: Date;
}

/** Copies a run recorded as being sent and never as acknowledged or failed: it was killed in between. */
export async function unacknowledgedSends(pool: pg.Pool, positions: readonly SourcePosition[]): Promise<UnacknowledgedSend[]> {
  if (!positions.length) return [];
  const { rows } = await pool.query<{
    replay_id: string;
    topic: string;
    partition: number;
    offset: string;
    destination_topic: string;
    recorded_at: Date;
  }>(
    `SELECT m.replay_id::text, m.source_topic AS topic, m.source_partition AS partition, m.source_offset::text AS offset,
            m.destination_topic, m.recorded_at
       FROM replay_messages m
       JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS p(topic, partition, "offset")
         ON m.source_topic = p.topic AND m.source_partition = p.partition AND m.source_offset = p."offset"
      WHERE m.status = 'sending'`,
    [positions.map((p) => p.topic), positions.map((p) => p.partition), positions.map((p) => p.offset)],
  );
  return rows.map((r) => ({
    replayId: r.replay_id,
    source: { topic: r.topic, partition: r.partition, offset: r.offset },
    destinationTopic: r.destination_topic,
    recordedAt: r.recorded_at,
  }));
}
