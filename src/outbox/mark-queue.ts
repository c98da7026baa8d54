/**
 * Marks rows published after Kafka acknowledged them. Rows acknowledged while a mark is running
 * are marked together by the next statement, so at a steady rate PostgreSQL sees one UPDATE per
 * mark round trip rather than one per produce request; in order, and retried until it succeeds.
 */
export interface MarkQueueOptions {
  mark(ids: readonly string[]): Promise<void>;
  /**
   * A mark failed: wait before the next attempt and return true, or return false to give up (the
   * leadership ended; the next leader sends those rows again, a duplicate, never a loss).
   */
  retry(error: unknown, failures: number, rows: number): Promise<boolean>;
}

interface Queued {
  ids: readonly string[];
  marked: () => void;
}

export class MarkQueue {
  private queued: Queued[] = [];
  private draining: Promise<void> = Promise.resolve();
  private active = false;

  constructor(private readonly options: MarkQueueOptions) {}

  /** Queues `ids`; `marked` runs once they are marked published. */
  add(ids: readonly string[], marked: () => void): void {
    this.queued.push({ ids, marked });
    if (this.active) return;
    this.active = true;
    this.draining = this.drain();
  }

  /** Resolves once everything queued so far is marked (or given up). */
  settled(): Promise<void> {
    return this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length) {
        const entries = this.queued.splice(0);
        if (await this.markAll(entries.flatMap((entry) => entry.ids))) for (const entry of entries) entry.marked();
      }
    } finally {
      this.active = false;
    }
  }

  private async markAll(ids: string[]): Promise<boolean> {
    for (let failures = 0; ; failures++) {
      try {
        await this.options.mark(ids);
        return true;
      } catch (error) {
        if (!(await this.options.retry(error, failures, ids.length))) return false;
      }
    }
  }
}
