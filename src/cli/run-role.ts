import type { Logger } from '../log.js';

/**
 * Keeps a long-running role alive until SIGTERM or SIGINT, then runs its graceful stop. A second
 * signal, or a stop that takes longer than `graceMs`, ends the process at once. Returns the signal
 * (SIGTERM is how a container is told to stop: exit 0; SIGINT is an operator's Ctrl-C: 130).
 */
export async function runUntilSignalled(stop: () => Promise<void>, log: Logger, graceMs = 30_000): Promise<NodeJS.Signals> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'shutting down: finishing in-flight work');
  const force = () => {
    log.error('shutdown did not finish in time; exiting');
    process.exit(1);
  };
  const timer = setTimeout(force, graceMs);
  timer.unref();
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await stop();
  clearTimeout(timer);
  log.info('stopped');
  return signal;
}
