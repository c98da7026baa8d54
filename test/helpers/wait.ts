import { setTimeout as sleep } from 'node:timers/promises';

/** Polls until `predicate` holds, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
