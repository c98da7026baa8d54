import { setTimeout as sleep } from 'node:timers/promises';

/**
 * At most `perSecond` sends a second: each send starts at least 1/perSecond after the one before.
 * A slow send is not made up for with a burst afterwards (the destination's consumers feel bursts).
 * The clock and the sleep are injectable so the schedule is tested without timing anything.
 */
export class SendPacer {
  private last: number | undefined;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void> = (ms, signal) =>
      sleep(ms, undefined, { signal }).catch(() => undefined),
  ) {}

  /** How long the next send must wait, from now. */
  delayBeforeNext(): number {
    if (this.last === undefined) return 0;
    return Math.max(0, this.last + 1000 / this.perSecond - this.now());
  }

  /** Waits for the next slot (or the signal) and takes it. */
  async next(signal?: AbortSignal): Promise<void> {
    const delay = this.delayBeforeNext();
    if (delay > 0) await this.wait(delay, signal);
    this.last = this.now();
  }
}
