import { setTimeout as sleep } from 'node:timers/promises';
import type { Progress } from './rollout.js';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
}

export interface WaitResult extends Progress {
  timedOut: boolean;
}

/** Reads the object's progress until it is done, has failed, or the time is up; reports each new message. */
export async function waitUntilDone(
  read: () => Promise<Progress>,
  options: WaitOptions,
  onMessage: (message: string) => void,
): Promise<WaitResult> {
  const deadline = Date.now() + options.timeoutMs;
  let last: string | undefined;
  for (;;) {
    const progress = await read();
    if (progress.message !== last) onMessage(progress.message);
    last = progress.message;
    if (progress.done || progress.failed) return { ...progress, timedOut: false };
    const left = deadline - Date.now();
    if (left <= 0) return { ...progress, timedOut: true };
    await sleep(Math.min(options.intervalMs, left));
  }
}
