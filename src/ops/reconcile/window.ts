import { UsageError } from '../../errors.js';

/** The created-time window reconciliation walks, and the days it walks it in. Pure. */

export interface ReconcileWindow {
  since: Date;
  until: Date;
  /** canonical words for what was asked: a new run with the same spec resumes an unfinished one */
  spec: string;
}

const DAY_MS = 86_400_000;
const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS } as const;

/** `--since`/`--until`: an ISO date or time (2026-01-31, 2026-01-31T12:00:00Z), or a span before now (24h, 7d). */
export function parseInstant(value: string, flag: string, now: Date): Date {
  const span = DURATION.exec(value.trim());
  if (span) return new Date(now.getTime() - Number(span[1]) * UNIT_MS[span[2] as keyof typeof UNIT_MS]);
  const parsed = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(parsed.getTime())) {
    throw new UsageError(
      `${flag} must be an ISO date or time (2026-01-31, 2026-01-31T12:00:00Z) or a span before now (24h, 7d), got "${value}"`,
    );
  }
  return parsed;
}

export function resolveWindow(
  flags: { since?: string; until?: string; all?: boolean },
  now: Date,
  /** the oldest payments row, where --all starts */
  oldest: () => Date | undefined,
): ReconcileWindow {
  if (flags.all && flags.since) throw new UsageError('--all and --since cannot be used together');
  const until = flags.until ? parseInstant(flags.until, '--until', now) : now;
  let since: Date;
  if (flags.all) since = oldest() ?? until;
  else since = parseInstant(flags.since ?? '24h', '--since', now);
  if (since.getTime() > until.getTime()) throw new UsageError(`--since (${since.toISOString()}) is after --until (${until.toISOString()})`);
  const spec = flags.all
    ? `all${flags.until ? `,until=${flags.until}` : ''}`
    : `since=${flags.since ?? '24h'}${flags.until ? `,until=${flags.until}` : ''}`;
  return { since, until, spec };
}

/** The window cut at UTC midnights: [from, to) each, the first and last possibly partial. */
export function daysOf(window: { since: Date; until: Date }): { from: Date; to: Date }[] {
  const days: { from: Date; to: Date }[] = [];
  const end = window.until.getTime();
  let from = window.since.getTime();
  // `until` itself belongs to the window: the last day ends just after it.
  const last = end + 1000;
  while (from < last) {
    const midnight = Math.floor(from / DAY_MS) * DAY_MS + DAY_MS;
    const to = Math.min(midnight, last);
    days.push({ from: new Date(from), to: new Date(to) });
    from = to;
  }
  return days;
}
