/**
 * Counts the `/v1` requests the emulator receives, so a client's rate can be measured where
 * Stripe would measure it, and — with the `rateLimitPerSecond` fault — refuses those over the
 * rate with a 429 as Stripe's rate limiter does (any one-second span, whatever the endpoint).
 */

export interface RequestStats {
  /** requests received (answered or refused) */
  total: number;
  /** refused with 429 by the rate limit */
  rateLimited: number;
  /** the most requests received in any one-second span */
  peakPerSecond: number;
}

/** Arrivals kept for measuring; older ones are forgotten (the peak already counted them). */
const KEPT = 200_000;

export class RequestMeter {
  private arrivals: number[] = [];
  private admitted: number[] = [];
  private total = 0;
  private rateLimited = 0;
  private peak = 0;
  private peakStart = 0;

  /** Records a request; returns false when it is over `limitPerSecond` (0 = no limit) and must be refused. */
  arrive(limitPerSecond: number, now = performance.now()): boolean {
    this.total++;
    this.arrivals.push(now);
    while (this.arrivals.length > 0 && now - this.arrivals[this.peakStart]! >= 1000) this.peakStart++;
    this.peak = Math.max(this.peak, this.arrivals.length - this.peakStart);
    if (this.peakStart > KEPT) {
      this.arrivals = this.arrivals.slice(this.peakStart);
      this.peakStart = 0;
    }
    while (this.admitted.length > 0 && now - this.admitted[0]! >= 1000) this.admitted.shift();
    if (limitPerSecond > 0 && this.admitted.length >= limitPerSecond) {
      this.rateLimited++;
      return false;
    }
    this.admitted.push(now);
    return true;
  }

  stats(): RequestStats {
    return { total: this.total, rateLimited: this.rateLimited, peakPerSecond: this.peak };
  }

  reset(): void {
    this.arrivals = [];
    this.admitted = [];
    this.total = 0;
    this.rateLimited = 0;
    this.peak = 0;
    this.peakStart = 0;
  }
}
