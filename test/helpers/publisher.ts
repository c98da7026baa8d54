import { execa, type ResultPromise } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from './cli.js';

export interface PublisherProcess {
  metricsPort: number;
  process: ResultPromise;
  output: () => string;
  metrics: () => Promise<string>;
  isLeader: (topic: string) => Promise<boolean>;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Runs `paymentsctl publish-outbox` as its own process, the way it runs in a container. */
export async function startPublisher(
  env: { DATABASE_URL: string; KAFKA_BROKERS: string; KAFKA_TOPIC_PREFIX: string },
  args: string[] = [],
): Promise<PublisherProcess> {
  // Port 0: the publisher binds a free port itself and logs it, so parallel tests never collide.
  const child = execa(process.execPath, [BIN, 'publish-outbox', '--metrics-host', '127.0.0.1', '--metrics-port', '0', ...args], {
    env: { ...env, LOG_LEVEL: 'info' },
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
    else if (child.exitCode !== null && child.exitCode !== undefined) throw new Error(`publisher exited early:\n${output}`);
    else if (i > 600) throw new Error(`publisher did not start:\n${output}`);
    else await sleep(25);
  }
  const metrics = async () => {
    try {
      return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    } catch (error) {
      throw new Error(`publisher metrics unreachable (${(error as Error).message}); its output:\n${output.slice(-4000)}`);
    }
  };
  return {
    metricsPort,
    process: child,
    output: () => output,
    metrics,
    isLeader: async (topic) => new RegExp(`paymentsctl_outbox_leader\\{topic="${topic.replace(/\./g, '\\.')}"[^}]*\\} 1`).test(await metrics()),
    kill: async (signal = 'SIGKILL') => {
      child.kill(signal);
      await child;
    },
  };
}

/** Polls until `predicate` holds, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
