import { abortableSleep } from './backoff.js';
import { errorMessage, UnavailableError } from './errors.js';
import type { Logger } from './log.js';

/** What each dependency answered: 'ok', or why not. */
export type DependencyReport = Record<string, string>;

/** Since when each dependency that does not answer has not answered (ms since the epoch). */
export type DownSince = ReadonlyMap<string, number>;

/** Who is unreachable for longer than the limit, longest first; undefined while all are within it. */
export function outageOverLimit(down: DownSince, now: number, limitMs: number): { dependency: string; forMs: number } | undefined {
  let worst: { dependency: string; forMs: number } | undefined;
  for (const [dependency, since] of down) {
    const forMs = now - since;
    if (forMs > limitMs && (!worst || forMs > worst.forMs)) worst = { dependency, forMs };
  }
  return worst;
}

/** The next picture of who is down, after a report taken at `now`. */
export function nextDownSince(down: DownSince, report: DependencyReport, now: number): Map<string, number> {
  const next = new Map<string, number>();
  for (const [dependency, answer] of Object.entries(report)) {
    if (answer === 'ok') continue;
    next.set(dependency, down.get(dependency) ?? now);
  }
  return next;
}

export function formatMs(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60 ? `${seconds % 60}s` : ''}`;
}

const NAMES: Record<string, string> = { database: 'PostgreSQL', kafka: 'Kafka' };

export interface OutageWatchOptions {
  /** how long a dependency may stay unreachable before the role gives up */
  limitMs: number;
  /** asks every dependency once; never throws (a failed probe is an answer) */
  check: () => Promise<DependencyReport>;
  log: Logger;
  /** how often the dependencies are asked */
  everyMs?: number;
}

/**
 * Watches a role's dependencies while it runs. The role itself rides an outage out (it retries in
 * place, keeps its messages and rows); this only tells the operator what is away and since when,
 * and, past the limit, fails the role so that it exits 3 and its container is restarted — a fresh
 * process, fresh DNS and connections, and a restart count someone will see.
 */
export class OutageWatch {
  private down: Map<string, number> = new Map();
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;
  private listener: ((error: Error) => void) | undefined;
  private failed: Error | undefined;

  constructor(private readonly options: OutageWatchOptions) {}

  onFailure(listener: (error: Error) => void): void {
    this.listener = listener;
    if (this.failed) listener(this.failed);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { log, limitMs } = this.options;
    while (!this.stopped.signal.aborted) {
      await abortableSleep(this.options.everyMs ?? 2_000, [this.stopped.signal]);
      if (this.stopped.signal.aborted) return;
      let report: DependencyReport;
      try {
        report = await this.options.check();
      } catch (error) {
        report = { dependencies: errorMessage(error) };
      }
      const now = Date.now();
      const next = nextDownSince(this.down, report, now);
      for (const dependency of next.keys()) {
        if (!this.down.has(dependency))
          log.warn(
            { dependency, error: report[dependency], outageLimit: formatMs(limitMs) },
            `${NAMES[dependency] ?? dependency} unreachable; waiting for it to come back (exits 3 after ${formatMs(limitMs)})`,
          );
      }
      for (const [dependency, since] of this.down) {
        if (!next.has(dependency))
          log.info(
            { dependency, downMs: now - since },
            `${NAMES[dependency] ?? dependency} reachable again after ${formatMs(now - since)}`,
          );
      }
      this.down = next;
      const over = outageOverLimit(this.down, now, limitMs);
      if (over) {
        const name = NAMES[over.dependency] ?? over.dependency;
        const error = new UnavailableError(
          `${name} has been unreachable for ${formatMs(over.forMs)}, longer than the outage limit (${formatMs(limitMs)}): ${report[over.dependency]}`,
          { hint: `exiting so the role is restarted; check ${name}, or raise OUTAGE_LIMIT (--outage-limit)` },
        );
        log.error({ dependency: over.dependency, downMs: over.forMs, outageLimit: formatMs(limitMs) }, error.message);
        this.failed = error;
        this.listener?.(error);
        return;
      }
    }
  }
}
