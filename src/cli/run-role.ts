import type { Registry } from 'prom-client';
import { listenPort } from '../config.js';
import { ExitCode } from '../errors.js';
import { startOpsServer, type RunningOpsServer } from '../http/ops-server.js';
import type { Logger } from '../log.js';
import { createRegistry } from '../metrics.js';
import { OutageWatch } from '../outage.js';
import type { Role } from '../role.js';
import type { OpsFlags } from './options.js';

/** Why a role stopped: a signal, or the role itself failing for good. */
export type StopCause = NodeJS.Signals | 'failure';

/**
 * Keeps a long-running process alive until SIGTERM, SIGINT or `failure` (if given) fires, then runs
 * its graceful stop. A second signal, or a stop that takes longer than `graceMs`, ends the process
 * at once.
 */
export async function runUntilSignalled(
  stop: () => Promise<void>,
  log: Logger,
  options: { failure?: (listener: (error: Error) => void) => void; graceMs?: number } = {},
): Promise<StopCause> {
  const cause = await new Promise<StopCause>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    options.failure?.(() => resolve('failure'));
  });
  log.info(cause === 'failure' ? { cause } : { signal: cause }, 'shutting down: finishing in-flight work');
  const force = () => {
    log.error('shutdown did not finish in time; exiting');
    process.exit(cause === 'failure' ? ExitCode.unavailable : ExitCode.failed);
  };
  const timer = setTimeout(force, options.graceMs ?? 30_000);
  timer.unref();
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await stop();
  clearTimeout(timer);
  log.info('stopped');
  return cause;
}

/** Where /healthz, /readyz and /metrics listen when the role does not serve them itself. */
export interface OpsListener {
  host: string;
  port: number;
}

export interface RunRoleOptions<R extends Role> {
  log: Logger;
  /** undefined: the role serves /healthz, /readyz and /metrics itself (webhook-serve on its own port) */
  ops: OpsListener | undefined;
  /** fields of the "<role> started" log line */
  describe?: (role: R) => Record<string, unknown>;
  /** how long the role's database or Kafka may stay unreachable before it stops and exits 3 */
  outageLimitMs?: number;
}

/**
 * The life of a long-running role, the same for every one: its ops endpoints come up first (health
 * answers while it starts; readiness waits for it), then the role; it runs until SIGTERM (exit 0),
 * SIGINT (130) or its own failure (3), and stops gracefully. `make` receives the role's metrics
 * registry, which /metrics serves.
 */
export async function runRole<R extends Role>(
  name: string,
  make: (registry: Registry) => R,
  options: RunRoleOptions<R>,
): Promise<ExitCode> {
  const { log } = options;
  const registry = createRegistry(name);
  const role = make(registry);
  let started = false;
  const ops: RunningOpsServer | undefined = options.ops
    ? await startOpsServer({ ...options.ops, registry, ready: () => started && role.isReady(), log })
    : undefined;
  try {
    await role.start();
    started = true;
  } catch (error) {
    await role.stop().catch(() => undefined);
    await ops?.close();
    throw error;
  }
  log.info({ ...options.describe?.(role), ...(ops ? { metricsPort: ops.port } : {}) }, `${name} started`);
  const watch =
    role.dependencies && options.outageLimitMs !== undefined
      ? new OutageWatch({ limitMs: options.outageLimitMs, check: () => role.dependencies!(), log })
      : undefined;
  watch?.start();
  const cause = await runUntilSignalled(
    async () => {
      await watch?.stop();
      await role.stop();
      await ops?.close();
    },
    log,
    {
      failure: (listener) => {
        role.onFailure?.(listener);
        watch?.onFailure(listener);
      },
    },
  );
  if (cause === 'failure') return ExitCode.unavailable;
  return cause === 'SIGINT' ? ExitCode.interrupted : ExitCode.ok;
}

/** --metrics-host/--metrics-port as a listener; undefined when --metrics-port is not given (and has no default). */
export function opsListener(flags: OpsFlags): OpsListener | undefined {
  return flags.metricsPort === undefined ? undefined : { host: flags.metricsHost, port: listenPort(flags.metricsPort, '--metrics-port') };
}
