import { execa, type ResultPromise } from 'execa';
import { BIN } from './cli.js';
import { waitFor } from './wait.js';
import { sumSamples } from '../../src/dev/prometheus.js';

export interface RoleProcess {
  /** where it serves /healthz, /readyz and /metrics */
  metricsPort: number;
  process: ResultPromise;
  output: () => string;
  metrics: () => Promise<string>;
  /** the value of a Prometheus sample, summed over the label sets that contain `labels` */
  metric: (name: string, labels?: Record<string, string>) => Promise<number>;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

export interface SpawnOptions {
  /** 'ready' (default): resolve once /readyz answers 200; 'serving': once the ops endpoints listen */
  until?: 'ready' | 'serving';
  /** inherit this process's environment (default true) */
  extendEnv?: boolean;
}

const STARTUP_MS = 60_000;

/**
 * Runs `paymentsctl <argv>` — a long-running role — as its own process, the way it runs in a
 * container, and resolves once it is ready, as a Kubernetes probe sees it: its /readyz answers 200.
 * The port comes from the line it logs once its ops endpoints listen ("serving /healthz…").
 */
export async function spawnRole(argv: string[], env: Record<string, string>, options: SpawnOptions = {}): Promise<RoleProcess> {
  const name = argv[0];
  const child = execa(process.execPath, [BIN, ...argv], {
    env: { LOG_LEVEL: 'info', ...env },
    extendEnv: options.extendEnv ?? true,
    reject: false,
    stdin: 'ignore',
    all: true,
    buffer: true,
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitedEarly = (what: string) => {
    if (child.exitCode !== null && child.exitCode !== undefined) throw new Error(`${name} exited before ${what}:\n${output}`);
  };
  const withOutput = async (what: string, wait: () => Promise<void>) =>
    wait().catch((error: Error) => {
      throw new Error(`${error.message}; ${name}'s output:\n${output}`, { cause: error });
    });

  let metricsPort = 0;
  await withOutput('its ops endpoints', () =>
    waitFor(
      `${name} to serve /healthz`,
      () => {
        exitedEarly('it served /healthz');
        const line = output.split('\n').find((l) => l.includes('serving /healthz'));
        if (line) metricsPort = (JSON.parse(line) as { port: number }).port;
        return metricsPort !== 0;
      },
      STARTUP_MS,
    ),
  );
  if ((options.until ?? 'ready') === 'ready') {
    await withOutput('readiness', () =>
      waitFor(
        `${name} to be ready`,
        async () => {
          exitedEarly('it was ready');
          const response = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
          return response?.status === 200;
        },
        STARTUP_MS,
      ),
    );
  }
  const metrics = async () => {
    try {
      return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    } catch (error) {
      throw new Error(`${name} metrics unreachable (${(error as Error).message}); its output:\n${output.slice(-4000)}`, { cause: error });
    }
  };
  return {
    metricsPort,
    process: child,
    output: () => output,
    metrics,
    metric: async (metric, labels = {}) => sumSamples(await metrics(), metric, labels),
    kill: async (signal = 'SIGKILL') => {
      child.kill(signal);
      await child;
    },
  };
}

/**
 * Runs a role with its ops endpoints on a port of their own (`publish-outbox`, `worker`). Port 0: it
 * binds a free one itself and logs it, so parallel tests never collide.
 */
export async function startRole(
  role: string,
  env: Record<string, string>,
  args: string[] = [],
  options: SpawnOptions = {},
): Promise<RoleProcess> {
  return spawnRole([role, '--metrics-host', '127.0.0.1', '--metrics-port', '0', ...args], env, options);
}
