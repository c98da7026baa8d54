import type { Registry } from 'prom-client';
import { listenPort } from '../config.js';
import { ExitCode } from '../errors.js';
import { startOpsServer, type RunningOpsServer } from '../http/ops-server.js';
import type { Logger } from '../log.js';
import { createRegistry } from '../metrics.js';
import { OutageWatch } from '../outage.js';
import type { SchemaGateSettings } from '../migrate/schema-gate.js';
import type { ReadyState, Role } from '../role.js';
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
  /** the databases whose schema must be the one this binary ships before the role starts */
  schema?: SchemaGateSettings;
  /**
   * Where /healthz and /readyz answer while the role waits for its schema, when it serves them
   * itself once started (webhook-serve on its webhook port): so probes see "alive, not ready".
   */
  waitingOps?: OpsListener;
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
  let waitingFor: string | undefined;
  const ready = (): ReadyState | Promise<ReadyState> =>
    started ? role.isReady() : { ready: false, ...(waitingFor ? { schema: waitingFor } : {}) };
  const ops: RunningOpsServer | undefined = options.ops ? await startOpsServer({ ...options.ops, registry, ready, log }) : undefined;
  if (options.schema) {
    const waitingOps = !ops && options.waitingOps ? await startOpsServer({ ...options.waitingOps, registry, ready, log }) : undefined;
    const outcome = await untilSchemaCurrent(options.schema, log, (reason) => (waitingFor = reason))
      .catch(async (error: unknown) => {
        await ops?.close();
        throw error;
      })
      .finally(() => waitingOps?.close());
    if (outcome !== 'current') {
      await ops?.close();
      log.info({ signal: outcome }, 'stopped while waiting for migrations');
      return outcome === 'SIGINT' ? ExitCode.interrupted : ExitCode.ok;
    }
  }
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

/** Waits for the schema gate; a SIGTERM or SIGINT meanwhile ends the wait (and the role) at once. */
async function untilSchemaCurrent(
  settings: SchemaGateSettings,
  log: Logger,
  onWaiting: (reason: string) => void,
): Promise<'current' | 'SIGTERM' | 'SIGINT'> {
  const { awaitSchema } = await import('../migrate/schema-gate.js');
  const { loadMigrations } = await import('../migrate/files.js');
  const abort = new AbortController();
  let signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM';
  const onTerm = () => abort.abort();
  const onInt = () => {
    signal = 'SIGINT';
    abort.abort();
  };
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  try {
    const outcome = await awaitSchema({ ...settings, files: await loadMigrations(), log, signal: abort.signal, onWaiting });
    return outcome === 'current' ? 'current' : signal;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
}

/** --metrics-host/--metrics-port as a listener; undefined when --metrics-port is not given (and has no default). */
export function opsListener(flags: OpsFlags): OpsListener | undefined {
  return flags.metricsPort === undefined ? undefined : { host: flags.metricsHost, port: listenPort(flags.metricsPort, '--metrics-port') };
}
