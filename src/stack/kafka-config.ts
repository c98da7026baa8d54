import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa, ExecaError } from 'execa';
import { UnavailableError } from '../errors.js';
import { BRING_YOUR_OWN_BROKER, lastLines, pinnedProfile } from './kafka-libs.js';
import { packageRoot } from './paths.js';

/** The java binary to use (JAVA_HOME wins, as in Kafka's own scripts) after checking it runs and is new enough. */
export async function findJava(version: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromHome = env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : undefined;
  const java = fromHome && existsSync(fromHome) ? fromHome : 'java';
  // Kafka 4 brokers need Java 17; 3.x brokers run on 11+. Failing here beats a cryptic JVM error later.
  const needed = pinnedProfile(version) === 'kafka4' ? 17 : 11;
  const hint = `install a JDK (${needed} or newer) or set JAVA_HOME, or ${BRING_YOUR_OWN_BROKER}`;
  let banner: string;
  try {
    // `java -version` prints on stderr.
    banner = (await execa(java, ['-version'], { timeout: 30_000, stdin: 'ignore' })).stderr;
  } catch (error) {
    const missing = error instanceof ExecaError && error.code === 'ENOENT';
    throw new UnavailableError(missing ? 'java is not installed or not on PATH; it is needed to run Kafka' : `${java} -version failed`, {
      hint,
      cause: error,
    });
  }
  const major = javaMajor(banner);
  if (major !== undefined && major < needed) {
    throw new UnavailableError(`Kafka ${version} needs Java ${needed} or newer, found Java ${major} (${java})`, { hint });
  }
  return java;
}

function javaMajor(banner: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(banner);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first; // "1.8.0_x" means Java 8
}

/** A Kafka Uuid as `kafka-storage random-uuid` prints it, without paying for a JVM start. */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka rejects ids that look like command-line flags.
    if (!id.startsWith('-')) return id;
  }
}

export interface NodeLayout {
  port: number;
  controllerPort: number;
  dataDir: string;
}

/** One combined broker+controller sized for a laptop or a 2-core CI runner. */
export function serverProperties({ port, controllerPort, dataDir }: NodeLayout): string {
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    // Static voters: no --standalone/--initial-controllers dance at format time, on 3.9 and 4.x alike.
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    'log.dirs': dataDir,
    // A single node can only ever hold one replica.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    // The defaults (50 each) make the first consumer group or transaction create 50 partitions.
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'num.partitions': 1,
    // The CLI creates its topics explicitly; a typo must not silently create a new topic.
    'auto.create.topics.enable': false,
    'num.network.threads': 2,
    'num.io.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'background.threads': 2,
    'log.segment.bytes': 16 * 1024 * 1024,
    'log.retention.hours': 24,
    'log.retention.bytes': 256 * 1024 * 1024,
    // The cleaner (needed for __consumer_offsets) allocates this on the heap at startup; default is 128 MiB.
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
  };
  const lines = Object.entries(settings).map(([key, value]) => `${key}=${escapeValue(String(value))}`);
  return `# Written by paymentsctl on every start; edits are overwritten.\n${lines.join('\n')}\n`;
}

// Backslashes are escapes in .properties files (matters for Windows-style paths).
function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\');
}

/** System properties that send Kafka's own logging to `<logsDir>/server.log` for the version's logging backend. */
export function loggingArgs(version: string, logsDir: string): string[] {
  const infra = join(packageRoot(), 'infra', 'kafka');
  const config =
    pinnedProfile(version) === 'kafka4'
      ? `-Dlog4j2.configurationFile=${join(infra, 'log4j2.xml')}`
      : `-Dlog4j.configuration=file:${join(infra, 'log4j.properties')}`;
  return [`-Dkafka.logs.dir=${logsDir}`, config];
}

/** Flags for the long-running broker: a small fixed heap and Kafka's own GC choices. */
export const BROKER_JVM_FLAGS: readonly string[] = [
  '-Xms256m',
  '-Xmx512m',
  '-XX:MaxDirectMemorySize=256m',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  // Die rather than limp along; the launcher notices a dead pid, not a wedged broker.
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
];

/** `kafka-storage format` for a fresh data directory; short-lived, so it skips the JIT's upper tiers. */
export async function formatStorage(opts: {
  java: string;
  version: string;
  libs: string;
  configFile: string;
  clusterId: string;
  logsDir: string;
}): Promise<void> {
  const args = [
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    ...loggingArgs(opts.version, opts.logsDir),
    '-cp',
    join(opts.libs, '*'),
    'kafka.tools.StorageTool',
    'format',
    '-t',
    opts.clusterId,
    '-c',
    opts.configFile,
  ];
  try {
    await execa(opts.java, args, { timeout: 120_000, stdin: 'ignore', all: true });
  } catch (error) {
    const output = error instanceof ExecaError ? String(error.all ?? '') : '';
    throw new UnavailableError(`formatting Kafka storage failed:\n${lastLines(output, 20)}`, {
      hint: BRING_YOUR_OWN_BROKER,
      cause: error,
    });
  }
}
