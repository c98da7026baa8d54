/**
 * Runs work that SIGINT/SIGTERM abort (it cleans up and throws InterruptedError itself). While it
 * waits in `untilSignalled` (a pipeline kept open for the operator), a signal ends that wait instead.
 */
export async function interruptible<T>(work: (signal: AbortSignal, untilSignalled: () => Promise<void>) => Promise<T>): Promise<T> {
  const interrupt = new AbortController();
  let release: (() => void) | undefined;
  const onSignal = () => (release ? release() : interrupt.abort());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(interrupt.signal, () => new Promise<void>((resolve) => (release = resolve)));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
