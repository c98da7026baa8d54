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
  secure?: SecureListeners;
}

/**
 * Listeners besides PLAINTEXT, to try TLS and SASL against a real broker: SASL_SSL and
 * SASL_PLAINTEXT (PLAIN, SCRAM, and OAUTHBEARER with Kafka's built-in unsecured JWTs — for tests
 * only) and MTLS, an SSL listener that requires a client certificate signed by the truststore's CA. PLAINTEXT stays for the
 * controller link and the readiness probe.
 */
export interface SecureListeners {
  saslSslPort: number;
  saslPlaintextPort: number;
  mtlsPort: number;
  /** PEM file: the broker's private key (PKCS#8, unencrypted) followed by its certificate */
  keystoreFile: string;
  /** PEM file: the CA whose client certificates MTLS accepts */
  truststoreFile: string;
  /** PLAIN users, name → password (Kafka reads them from the listener's JAAS configuration) */
  plainUsers: Record<string, string>;
  /** SCRAM users, stored in the metadata log when the storage is formatted */
  scramUsers: readonly ScramUser[];
}

export interface ScramUser {
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  name: string;
  password: string;
}

/** JAAS values are quoted strings; a quote or backslash in a password would end them early. */
function jaasString(value: string): string {
  if (/["\\]/.test(value)) throw new Error('test credentials may not contain quotes or backslashes');
  return `"${value}"`;
}

function secureSettings(secure: SecureListeners): Record<string, string> {
  const plainUsers = Object.entries(secure.plainUsers)
    .map(([name, password]) => `user_${name}=${jaasString(password)}`)
    .join(' ');
  const jaas = (listener: string) => ({
    [`listener.name.${listener}.plain.sasl.jaas.config`]: `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    [`listener.name.${listener}.scram-sha-256.sasl.jaas.config`]: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    [`listener.name.${listener}.scram-sha-512.sasl.jaas.config`]: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    [`listener.name.${listener}.oauthbearer.sasl.jaas.config`]:
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";',
  });
  return {
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
    ...jaas('sasl_ssl'),
    ...jaas('sasl_plaintext'),
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': secure.keystoreFile,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': secure.truststoreFile,
    'listener.name.mtls.ssl.client.auth': 'required',
  };
}

/** One combined broker+controller sized for a laptop or a 2-core CI runner. */
export function serverProperties({ port, controllerPort, dataDir, secure }: NodeLayout): string {
  const extra = secure
    ? [
        `SASL_SSL://127.0.0.1:${secure.saslSslPort}`,
        `SASL_PLAINTEXT://127.0.0.1:${secure.saslPlaintextPort}`,
        `MTLS://127.0.0.1:${secure.mtlsPort}`,
      ]
    : [];
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    listeners: [`PLAINTEXT://127.0.0.1:${port}`, ...extra, `CONTROLLER://127.0.0.1:${controllerPort}`].join(','),
    'advertised.listeners': [`PLAINTEXT://127.0.0.1:${port}`, ...extra].join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': `CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${secure ? ',SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,MTLS:SSL' : ''}`,
    ...(secure ? secureSettings(secure) : {}),
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
  scramUsers?: readonly ScramUser[];
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
    // KIP-900: SCRAM credentials go into the metadata log before the first start.
    ...(opts.scramUsers ?? []).flatMap((user) => ['--add-scram', `${user.mechanism}=[name=${user.name},password=${user.password}]`]),
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
