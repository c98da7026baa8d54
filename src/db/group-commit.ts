export interface GroupCommitOptions<T, R> {
  /** items per batch at most */
  maxBatch: number;
  /** batches in flight at once; each usually holds one connection */
  maxConcurrent: number;
  /**
   * Commits one batch and answers each of its items, in order: fulfilled with its result, or
   * rejected on its own. A batch that throws fails every item in it.
   */
  commit: (batch: T[]) => Promise<PromiseSettledResult<R>[]>;
  /**
   * What an item holds while its batch is in flight: a batch takes at most one item per key, and
   * the others wait, in order, for a later one. Default: none.
   */
  keysOf?: (item: T) => readonly string[];
  /** told the size of every batch as it starts (a metric) */
  onBatch?: (size: number) => void;
  /**
   * Waits for company: a batch starts once `items` are queued, once `coming()` says no other item
   * is on its way, or once the oldest has waited `maxMs`. Default: none — every batch starts as
   * soon as a transaction is free.
   */
  linger?: { items: number; maxMs: number; coming: () => number };
}

interface Pending<T, R> {
  item: T;
  /** performance.now() when submitted */
  at: number;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: items submitted while earlier batches are in flight are committed together, in
 * one transaction, each answered only after that transaction commits. A transaction's cost is its
 * round trips and its commit far more than its rows, so under load this multiplies throughput.
 * Batches form by themselves: while `maxConcurrent` batches run, new items queue for the next
 * one; when idle every item is its own batch at once — unless `linger` asks a batch to wait a
 * few milliseconds for items known to be on their way.
 */
export class GroupCommit<T, R> {
  private queue: Pending<T, R>[] = [];
  private running = 0;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: GroupCommitOptions<T, R>) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, at: performance.now(), resolve, reject });
      this.pump();
    });
  }

  /** Looks again whether a batch can start (call when `linger.coming()` fell). */
  pump(): void {
    while (this.running < this.options.maxConcurrent && this.queue.length > 0) {
      if (this.lingering()) return;
      const batch = this.take();
      this.options.onBatch?.(batch.length);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** Whether the queue waits for more items; if so, a timer pumps again once the oldest has waited long enough. */
  private lingering(): boolean {
    const linger = this.options.linger;
    if (!linger || this.queue.length >= linger.items || linger.coming() === 0) return false;
    const waitMs = linger.maxMs - (performance.now() - this.queue[0]!.at);
    if (waitMs <= 0) return false;
    this.lingerTimer ??= setTimeout(() => {
      this.lingerTimer = undefined;
      this.pump();
    }, Math.ceil(waitMs));
    return true;
  }

  /** The oldest items, at most `maxBatch` and one per key; the rest stay queued in order. */
  private take(): Pending<T, R>[] {
    const { maxBatch, keysOf } = this.options;
    if (!keysOf) return this.queue.splice(0, maxBatch);
    const batch: Pending<T, R>[] = [];
    const rest: Pending<T, R>[] = [];
    const held = new Set<string>();
    for (const pending of this.queue) {
      const keys = keysOf(pending.item);
      if (batch.length < maxBatch && !keys.some((key) => held.has(key))) {
        batch.push(pending);
        for (const key of keys) held.add(key);
      } else {
        rest.push(pending);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: Pending<T, R>[]): Promise<void> {
    let outcomes: PromiseSettledResult<R>[];
    try {
      outcomes = await this.options.commit(batch.map((pending) => pending.item));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome?.status === 'fulfilled') pending.resolve(outcome.value);
      else pending.reject(outcome ? outcome.reason : new Error('group commit: the batch answered fewer items than it was given'));
    });
  }
}
