import { setTimeout as sleep } from 'node:timers/promises';

/**
 * At most `perSecond` sends a second, evenly spaced: the n-th send waits until start + n/perSecond.
 * The clock and the sleep are injectable so the schedule can be tested without timing anything.
 */
export class SendPacer {
  private sent = 0;
  private start: number | undefined;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void> = (ms, signal) =>
      sleep(ms, undefined, { signal }).catch(() => undefined),
  ) {}

  /** How long the next send must wait, from now. */
  delayBeforeNext(): number {
    if (this.start === undefined) return 0;
    return Math.max(0, this.start + (this.sent * 1000) / this.perSecond - this.now());
  }

  /** Waits for the next slot (or the signal) and takes it. */
  async next(signal?: AbortSignal): Promise<void> {
    this.start ??= this.now();
    const delay = this.delayBeforeNext();
    if (delay > 0) await this.wait(delay, signal);
    this.sent++;
  }
}
