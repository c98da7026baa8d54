/** Exponential backoff with jitter; `wait` ends early when the signal aborts. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 5_000,
  ) {}

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }

  nextDelayMs(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt++;
    return base / 2 + Math.random() * (base / 2);
  }

  wait(signals: AbortSignal[]): Promise<void> {
    return abortableSleep(this.nextDelayMs(), signals);
  }
}

export function abortableSleep(ms: number, signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const done = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}
