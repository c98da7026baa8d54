/**
 * The emulator's notion of "now" for `created` fields. It can be moved forward through the admin
 * API so tests can put objects in different seconds without sleeping. Webhook signatures do not
 * use it: receivers check their timestamps against the real clock.
 */
export class Clock {
  private offsetSeconds = 0;

  nowSeconds(): number {
    return Math.floor(Date.now() / 1000) + this.offsetSeconds;
  }

  advance(seconds: number): number {
    this.offsetSeconds += seconds;
    return this.nowSeconds();
  }

  reset(): void {
    this.offsetSeconds = 0;
  }
}
