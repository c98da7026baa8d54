/** Where a message goes after its `attempts`-th failure (attempts counts this one). */
export type Disposition = { action: 'retry'; level: number; delayMs: number } | { action: 'dead-letter' };

/**
 * The broker-level schedule: failure n (1-based) waits schedule[n-1] in `<topic>.retry.<n>`; the
 * failure after the last delay goes to `<topic>.dlq`.
 */
export function dispositionAfter(attempts: number, scheduleMs: readonly number[]): Disposition {
  if (attempts >= 1 && attempts <= scheduleMs.length) return { action: 'retry', level: attempts, delayMs: scheduleMs[attempts - 1]! };
  return { action: 'dead-letter' };
}
