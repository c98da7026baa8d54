import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * When each stage of one published batch happened, in epoch milliseconds with sub-millisecond
 * precision (comparable across processes on one machine). `woken` is the first NOTIFY since the
 * previous claim started; a claim read ahead during a backlog has none.
 */
export interface BatchStages {
  topic: string;
  /** the batch's events (ce_id) */
  eventIds: string[];
  woken?: number;
  claimStarted: number;
  claimed: number;
  sendStarted: number;
  acknowledged: number;
  marked: number;
  /** produce requests the batch took */
  requests: number;
}

export interface StageRecorder {
  record(stages: BatchStages): void;
  close(): Promise<void>;
}

export const epochMs = (): number => performance.timeOrigin + performance.now();

/** Appends one JSON line per batch to a file: for latency analysis, never for production. */
export class StageTraceFile implements StageRecorder {
  private readonly stream: WriteStream;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: 'a' });
  }

  record(stages: BatchStages): void {
    this.stream.write(`${JSON.stringify(stages)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
