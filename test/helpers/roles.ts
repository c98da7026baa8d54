import { execa, type ResultPromise } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from './cli.js';
import { sumSamples } from '../../src/dev/prometheus.js';

export interface RoleProcess {
  metricsPort: number;
  process: ResultPromise;
  output: () => string;
  metrics: () => Promise<string>;
  /** the value of a Prometheus sample, summed over the label sets that contain `labels` */
  metric: (name: string, labels?: Record<string, string>) => Promise<number>;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

/**
 * Runs a long-running role (`publish-outbox`, `worker`, ...) as its own process, the way it runs in
 * a container. Port 0: it binds a free metrics port itself and logs it, so parallel tests never collide.
 */
export async function startRole(role: string, env: Record<string, string>, args: string[] = []): Promise<RoleProcess> {
  const child = execa(process.execPath, [BIN, role, '--metrics-host', '127.0.0.1', '--metrics-port', '0', ...args], {
    env: { LOG_LEVEL: 'info', ...env },
    reject: false,
    stdin: 'ignore',
    all: true,
    buffer: true,
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let metricsPort = 0;
  for (let i = 0; !metricsPort; i++) {
    const line = output.split('\n').find((l) => l.includes('serving /healthz'));
    if (line) metricsPort = (JSON.parse(line) as { port: number }).port;
    else if (child.exitCode !== null && child.exitCode !== undefined) throw new Error(`${role} exited early:\n${output}`);
    else if (i > 600) throw new Error(`${role} did not start:\n${output}`);
    else await sleep(25);
  }
  const metrics = async () => {
    try {
      return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    } catch (error) {
      throw new Error(`${role} metrics unreachable (${(error as Error).message}); its output:\n${output.slice(-4000)}`, { cause: error });
    }
  };
  return {
    metricsPort,
    process: child,
    output: () => output,
    metrics,
    metric: async (name, labels = {}) => sumSamples(await metrics(), name, labels),
    kill: async (signal = 'SIGKILL') => {
      child.kill(signal);
      await child;
    },
  };
}
