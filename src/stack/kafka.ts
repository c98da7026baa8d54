/**
 * Runs a real Apache Kafka broker (KRaft, one combined broker+controller node) from the official
 * Maven artifacts, without Docker. The broker is detached so it outlives the CLI that started it;
 * the caller persists the returned ManagedKafka to stop it later.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import type { Logger } from '../log.js';
import {
  BROKER_JVM_FLAGS,
  findJava,
  formatStorage,
  loggingArgs,
  newClusterId,
  serverProperties,
  type SecureListeners,
} from './kafka-config.js';
import { BRING_YOUR_OWN_BROKER, lastLines, pinnedProfile, resolveKafkaLibs } from './kafka-libs.js';
import { freePort } from './ports.js';
import { isProcessAlive, recordPid, stopProcess, stopRecordedProcess } from './process.js';

export { PINNED_KAFKA_VERSIONS, DEFAULT_KAFKA_VERSION, kafkaVersionFrom, resolveKafkaLibs } from './kafka-libs.js';

export interface ManagedKafka {
  version: string;
  pid: number;
  port: number;
  controllerPort: number;
  /** log.dirs (also holds the KRaft metadata log) */
  dataDir: string;
  logFile: string;
  /** '127.0.0.1:<port>' */
  brokers: string;
  /** with `secure`: where the SASL_SSL, SASL_PLAINTEXT and MTLS listeners are, '127.0.0.1:<port>' */
  saslSslBrokers?: string;
  saslPlaintextBrokers?: string;
  mtlsBrokers?: string;
}

type ListenerPort = 'saslSslPort' | 'saslPlaintextPort' | 'mtlsPort';

export async function startKafka(opts: {
  version: string;
  workDir: string;
  cacheDir: string;
  log?: Logger;
  /** how long to wait for the broker to answer once launched (jar resolution is not counted) */
  timeoutMs?: number;
  /** fixed ports, e.g. to restart a broker where its clients expect it; default: free ones */
  port?: number;
  controllerPort?: number;
  /** also listen with SASL_SSL and mutual TLS (ports: free ones unless given) */
  secure?: Omit<SecureListeners, ListenerPort> & Partial<Pick<SecureListeners, ListenerPort>>;
}): Promise<ManagedKafka> {
  const { version, log } = opts;
  pinnedProfile(version);
  const java = await findJava(version);
  const libs = await resolveKafkaLibs(version, { cacheDir: opts.cacheDir, log });

  const workDir = resolve(opts.workDir);
  const dataDir = join(workDir, 'data');
  const logsDir = join(workDir, 'logs');
  await mkdir(dataDir, { recursive: true });
  await mkdir(logsDir, { recursive: true });

  const port = opts.port ?? (await freePort());
  let controllerPort = opts.controllerPort ?? (await freePort());
  while (controllerPort === port) controllerPort = await freePort();
  const taken = new Set([port, controllerPort]);
  const otherFreePort = async () => {
    let next = await freePort();
    while (taken.has(next)) next = await freePort();
    taken.add(next);
    return next;
  };
  const secure: SecureListeners | undefined = opts.secure && {
    ...opts.secure,
    saslSslPort: opts.secure.saslSslPort ?? (await otherFreePort()),
    saslPlaintextPort: opts.secure.saslPlaintextPort ?? (await otherFreePort()),
    mtlsPort: opts.secure.mtlsPort ?? (await otherFreePort()),
  };

  // Ports change on every start; the static voter endpoint lives in config, not in the metadata log,
  // so an already formatted data directory is reused as is.
  const configFile = join(workDir, 'server.properties');
  await writeFile(configFile, serverProperties({ port, controllerPort, dataDir, secure }));
  if (!existsSync(join(dataDir, 'meta.properties'))) {
    log?.debug({ dataDir }, 'formatting Kafka storage');
    await formatStorage({ java, version, libs, configFile, clusterId: newClusterId(), logsDir, scramUsers: secure?.scramUsers });
  }

  const stdoutFile = join(logsDir, 'stdout.log');
  const out = openSync(stdoutFile, 'a');
  let exited = false;
  let pid: number | undefined;
  try {
    // The file is appended across runs; a banner keeps an old crash from being read as this one's.
    writeSync(out, `--- paymentsctl: starting Kafka ${version} at ${new Date().toISOString()} ---\n`);
    const child = spawn(java, [...BROKER_JVM_FLAGS, ...loggingArgs(version, logsDir), '-cp', join(libs, '*'), 'kafka.Kafka', configFile], {
      cwd: workDir,
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.on('error', () => {
      exited = true;
    });
    child.on('exit', () => {
      exited = true;
    });
    child.unref();
    pid = child.pid;
    // Recorded before we wait for readiness: if this process is interrupted now, the next
    // `stack up` or `stack down` finds the broker through this file and stops it.
    if (pid !== undefined) await recordPid(pidFile(workDir), pid);
  } finally {
    closeSync(out); // the child holds its own copy
  }
  if (pid === undefined) {
    throw new UnavailableError(`could not launch ${java}`, { hint: BRING_YOUR_OWN_BROKER });
  }

  const kafka: ManagedKafka = {
    version,
    pid,
    port,
    controllerPort,
    dataDir,
    logFile: join(logsDir, 'server.log'),
    brokers: `127.0.0.1:${port}`,
    ...(secure
      ? {
          saslSslBrokers: `127.0.0.1:${secure.saslSslPort}`,
          saslPlaintextBrokers: `127.0.0.1:${secure.saslPlaintextPort}`,
          mtlsBrokers: `127.0.0.1:${secure.mtlsPort}`,
        }
      : {}),
  };
  log?.info({ version, pid, brokers: kafka.brokers }, 'Kafka starting');
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const alive = () => !exited && isProcessAlive(pid);
  const ready = await pollUntilReady(kafka.brokers, timeoutMs, alive);
  if (ready !== 'ready') {
    await stopProcess(pid, 5_000);
    const why = ready === 'died' ? 'exited during startup' : `did not become ready within ${timeoutMs} ms`;
    throw new UnavailableError(`Kafka ${version} ${why}; last log lines:\n${await logTail(kafka.logFile, stdoutFile)}`, {
      hint: `see ${logsDir}, or ${BRING_YOUR_OWN_BROKER}`,
    });
  }
  log?.info({ version, pid, brokers: kafka.brokers, ms: Date.now() - started }, 'Kafka ready');
  return kafka;
}

export async function stopKafka(
  kafka: Pick<ManagedKafka, 'pid' | 'dataDir'>,
  opts: { removeData?: boolean; graceMs?: number } = {},
): Promise<void> {
  // A clean shutdown (SIGTERM) lets the controller close its metadata log; 20 s is plenty for one node.
  await stopProcess(kafka.pid, opts.graceMs ?? 20_000);
  await rm(pidFile(dirname(kafka.dataDir)), { force: true });
  if (opts.removeData) await rm(kafka.dataDir, { recursive: true, force: true });
}

const pidFile = (workDir: string) => join(workDir, 'kafka.pid');

/**
 * Stops a broker that was launched in `workDir` but never recorded as started (its launcher was
 * interrupted). The command line must name this work dir's config, so a reused pid is left alone.
 */
export async function stopUnrecordedKafka(workDir: string): Promise<number | undefined> {
  return stopRecordedProcess(pidFile(workDir), ['kafka.Kafka', join(resolve(workDir), 'server.properties')], 20_000);
}

export async function waitForKafka(brokers: string, timeoutMs: number, log?: Logger): Promise<void> {
  log?.debug({ brokers, timeoutMs }, 'waiting for Kafka');
  if ((await pollUntilReady(brokers, timeoutMs, () => true)) !== 'ready') {
    throw new UnavailableError(`Kafka at ${brokers} did not answer within ${timeoutMs} ms`, {
      hint: 'check that the broker is running and KAFKA_BROKERS points at it',
    });
  }
}

export async function isKafkaReachable(brokers: string, timeoutMs = 3_000): Promise<boolean> {
  // No logger: refused connections are the expected answer while a broker boots.
  const admin = createKafka({
    brokers: brokers
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    clientId: 'paymentsctl-probe',
    connectionTimeoutMs: Math.min(timeoutMs, 3_000),
    requestTimeoutMs: timeoutMs,
    retries: 0,
  }).admin();
  const timer = sleep(timeoutMs, false, { ref: false });
  try {
    const probe = admin
      .connect()
      .then(() => admin.describeCluster())
      .then((c) => c.brokers.length > 0);
    return await Promise.race([probe.catch(() => false), timer]);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function pollUntilReady(brokers: string, timeoutMs: number, alive: () => boolean): Promise<'ready' | 'died' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) return 'died';
    const left = deadline - Date.now();
    if (left <= 0) return 'timeout';
    if (await isKafkaReachable(brokers, Math.min(left, 5_000))) return 'ready';
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
}

async function logTail(logFile: string, stdoutFile: string): Promise<string> {
  const read = (path: string) => readFile(path, 'utf8').catch(() => '');
  const server = lastLines(await read(logFile), 20);
  // JVM-level failures (bad flag, missing class, OOM) never reach log4j; they land in stdout.log.
  const stdout = lastLines(await read(stdoutFile), 10);
  return [server, stdout && `--- stdout.log ---\n${stdout}`].filter(Boolean).join('\n') || '(no log output)';
}
