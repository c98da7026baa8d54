import { UsageError } from '../../errors.js';

/**
 * Where `tail` starts in each partition: the log start or end, a time (resolved with the broker's
 * offsets-for-times, never by scanning), an absolute offset, or the last N of each partition.
 */
export type StartSpec =
  | { kind: 'beginning' }
  | { kind: 'end' }
  | { kind: 'time'; atMs: number }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'last'; count: bigint };

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A `--from`/`--until` duration ago, or an ISO time, as ms since the epoch; undefined if neither. */
export function parseTime(value: string, nowMs: number): number | undefined {
  const duration = DURATION.exec(value);
  if (duration) return nowMs - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS];
  // Only something that looks like a date: Date.parse accepts too much ("1", "May").
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export function parseStart(value: string, nowMs: number): StartSpec {
  const text = value.trim();
  if (text === 'beginning' || text === 'earliest' || text === 'oldest') return { kind: 'beginning' };
  if (text === 'end' || text === 'latest' || text === 'newest') return { kind: 'end' };
  if (/^-\d+$/.test(text)) return { kind: 'last', count: BigInt(text.slice(1)) };
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: BigInt(text) };
  const atMs = parseTime(text, nowMs);
  if (atMs !== undefined) return { kind: 'time', atMs };
  throw new UsageError(
    `--from must be beginning, end, an ISO time, a duration ago (15m, 2h), an offset or -N (the last N of each partition), got "${value}"`,
  );
}

export interface PartitionBounds {
  partition: number;
  /** first offset still in the log */
  low: bigint;
  /** the next offset to be written (the high watermark) */
  high: bigint;
  /** for a time start: the first offset at or after that time (high when there is none) */
  atTime?: bigint;
}

/** The offset to read a partition from, kept inside what the log holds. */
export function startOffset(spec: StartSpec, bounds: PartitionBounds): bigint {
  const clamp = (offset: bigint) => (offset < bounds.low ? bounds.low : offset > bounds.high ? bounds.high : offset);
  switch (spec.kind) {
    case 'beginning':
      return bounds.low;
    case 'end':
      return bounds.high;
    case 'time':
      return clamp(bounds.atTime ?? bounds.high);
    case 'offset':
      return clamp(spec.offset);
    case 'last':
      return clamp(bounds.high - spec.count);
  }
}
