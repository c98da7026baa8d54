/**
 * Burrow's consumer-lag evaluation, over a window of looks at one partition: the group's committed
 * offset and the log end, as read at each look.
 *
 *   OK     caught up, or moving
 *   WARN   lag grew from each look to the next over the last `growingLooks` looks (the group falls
 *          behind: slow, or gone while messages keep coming)
 *   STALL  lag > 0 at every look, not growing, and the committed offset never moved (stuck, or gone)
 *   STOP   lag > 0 and the group never committed an offset here at all
 */
export type LagVerdict = 'OK' | 'WARN' | 'STALL' | 'STOP';

export interface PartitionLook {
  atMs: number;
  /** the group's committed offset; null when it never committed on this partition */
  committed: bigint | null;
  low: bigint;
  high: bigint;
}

/** Messages still to consume at one look: from the committed offset (or the log start) to the end. */
export function lagAt(look: PartitionLook): bigint {
  const from = look.committed === null || look.committed < look.low ? look.low : look.committed;
  return look.high > from ? look.high - from : 0n;
}

export interface PartitionVerdict {
  verdict: LagVerdict;
  lag: bigint;
  why: string;
}

export function partitionVerdict(looks: readonly PartitionLook[], growingLooks = 3): PartitionVerdict {
  const last = looks.at(-1);
  if (!last) return { verdict: 'OK', lag: 0n, why: 'not looked at yet' };
  const lag = lagAt(last);
  if (lag === 0n) return { verdict: 'OK', lag, why: 'caught up' };
  if (looks.every((look) => look.committed === null)) return { verdict: 'STOP', lag, why: `no offset ever committed; ${lag} waiting` };
  const lags = looks.map(lagAt);
  const recent = lags.slice(-growingLooks);
  if (growingLooks >= 2 && recent.length === growingLooks && recent.every((l, i) => i === 0 || l > recent[i - 1]!)) {
    return { verdict: 'WARN', lag, why: `lag grew over the last ${growingLooks} looks (${recent.join(' → ')})` };
  }
  // Over the same recent looks: in a long --watch window, a stall is judged on what happens now.
  const latest = looks.slice(-Math.max(2, growingLooks));
  const committed = latest.map((look) => look.committed);
  if (latest.length >= 2 && latest.every((l) => lagAt(l) > 0n) && committed.every((c) => c === committed[0])) {
    return { verdict: 'STALL', lag, why: `offset ${committed[0]} has not moved over ${latest.length} looks while ${lag} wait` };
  }
  return { verdict: 'OK', lag, why: 'consuming' };
}

const SEVERITY: Record<LagVerdict, number> = { OK: 0, WARN: 1, STALL: 2, STOP: 3 };

/** The worst of several verdicts (a group's, from its partitions'). */
export function worstVerdict(verdicts: readonly LagVerdict[]): LagVerdict {
  return verdicts.reduce<LagVerdict>((worst, v) => (SEVERITY[v] > SEVERITY[worst] ? v : worst), 'OK');
}
