/**
 * How long to wait before a claim so that events arriving close together leave in one produce
 * request. Each request costs the broker (and every consumer fetch it wakes) far more than the
 * bytes it carries, so at a steady few hundred events a second one request per event is what
 * makes the broker the bottleneck of a small machine.
 *
 * It waits only while rows keep arriving fast enough that the wait gathers at least `minRows`
 * more: a lone event after a quiet spell is claimed at once, and a backlog (full batches) never
 * waits.
 */
export class AdaptiveLinger {
  /** rows per millisecond seen by recent claims */
  private ratePerMs = 0;
  private lastClaimAt: number | undefined;
  private lastFull = false;

  constructor(
    private readonly maxMs: number,
    private readonly minRows = 2,
    /** a gap longer than this forgets the rate seen before it */
    private readonly forgetAfterMs = 100,
  ) {}

  /** A claim started at `at` (ms) and found `rows` rows; `full` when it hit the batch size. */
  observe(rows: number, at: number, full: boolean): void {
    this.lastFull = full;
    if (this.lastClaimAt !== undefined) {
      const elapsed = Math.max(at - this.lastClaimAt, 0.05);
      const sample = rows / elapsed;
      this.ratePerMs = elapsed > this.forgetAfterMs ? sample : (this.ratePerMs + sample) / 2;
    }
    this.lastClaimAt = at;
  }

  /** Milliseconds to wait before the claim about to start at `now`. */
  delayMs(now: number): number {
    if (this.maxMs <= 0 || this.lastFull || this.lastClaimAt === undefined) return 0;
    if (now - this.lastClaimAt > this.forgetAfterMs) return 0;
    return this.ratePerMs * this.maxMs >= this.minRows ? this.maxMs : 0;
  }
}
