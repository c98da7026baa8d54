import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { UnavailableError, OperationError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDatabase, withDatabase } from '../db/databases.js';
import { validateDatabaseUrl, kafkaBrokers as brokersSetting } from '../config.js';
import { redact } from '../redact.js';
import {
  DEFAULT_LOCAL_POSTGRES_URL,
  isPostgresReachable,
  startPostgres,
  stopPostgres,
  type ManagedPostgres,
} from './postgres.js';
import {
  isKafkaReachable,
  kafkaVersionFrom,
  startKafka,
  stopKafka,
  stopUnrecordedKafka,
  waitForKafka,
  type ManagedKafka,
} from './kafka.js';
import { isProcessAlive } from './process.js';
import { readState, removeState, withStateLock, writeState, type StackState } from './state.js';
import { defaultCacheDir, defaultStateDir } from './paths.js';

/** The database the stack creates for the pipeline on a server it did not make itself. */
export const STACK_DATABASE = 'paymentsctl';

export interface StackOptions {
  stateDir?: string;
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  /** start a throwaway cluster even when a server listens on 127.0.0.1:5432 */
  freshPostgres?: boolean;
  log?: Logger;
  timeoutMs?: number;
}

export interface StackInfo {
  databaseUrl: string;
  kafkaBrokers: string;
  reused: boolean;
  state: StackState;
}

function resolveOptions(options: StackOptions) {
  const env = options.env ?? process.env;
  return {
    env,
    stateDir: options.stateDir ?? defaultStateDir(env),
    cacheDir: options.cacheDir ?? defaultCacheDir(env),
    timeoutMs: options.timeoutMs ?? 90_000,
    log: options.log,
  };
}

async function isPostgresHealthy(state: StackState['postgres']): Promise<boolean> {
  if (state.managed && !isProcessAlive(state.managed.pid)) return false;
  return isPostgresReachable(state.url);
}

async function isKafkaHealthy(state: StackState['kafka']): Promise<boolean> {
  if (state.managed && !isProcessAlive(state.managed.pid)) return false;
  return isKafkaReachable(state.brokers, 5000);
}

async function upPostgres(
  options: ReturnType<typeof resolveOptions> & { freshPostgres?: boolean },
  started: { postgres?: ManagedPostgres },
): Promise<StackState['postgres']> {
  const given = options.env.DATABASE_URL ?? options.env.DB_DSN;
  if (given) {
    const url = validateDatabaseUrl(given, options.env.DATABASE_URL ? 'DATABASE_URL' : 'DB_DSN');
    if (!(await isPostgresReachable(url, 5000))) {
      throw new UnavailableError(`DATABASE_URL is set but PostgreSQL does not accept connections there (${redact(url)})`, {
        hint: 'start that server, or unset DATABASE_URL to let `stack up` find or start one',
      });
    }
    return { mode: 'env', url };
  }
  if (!options.freshPostgres && (await isPostgresReachable(DEFAULT_LOCAL_POSTGRES_URL))) {
    await ensureDatabase(DEFAULT_LOCAL_POSTGRES_URL, STACK_DATABASE);
    return { mode: 'existing', url: withDatabase(DEFAULT_LOCAL_POSTGRES_URL, STACK_DATABASE) };
  }
  const managed = await startPostgres({ log: options.log });
  started.postgres = managed;
  await ensureDatabase(managed.adminUrl, STACK_DATABASE);
  return { mode: 'managed', url: withDatabase(managed.adminUrl, STACK_DATABASE), managed };
}

async function upKafka(
  options: ReturnType<typeof resolveOptions>,
  started: { kafka?: ManagedKafka },
): Promise<StackState['kafka']> {
  if (options.env.KAFKA_BROKERS) {
    const brokers = brokersSetting({}, options.env).join(',');
    await waitForKafka(brokers, 15_000, options.log);
    return { mode: 'env', brokers };
  }
  const version = kafkaVersionFrom(options.env);
  const workDir = join(options.stateDir, 'kafka');
  const orphan = await stopUnrecordedKafka(workDir);
  if (orphan) options.log?.warn({ pid: orphan }, 'stopped a Kafka broker left by an interrupted stack up');
  const managed = await startKafka({
    version,
    workDir,
    cacheDir: options.cacheDir,
    log: options.log,
    timeoutMs: options.timeoutMs,
  });
  started.kafka = managed;
  return { mode: 'managed', brokers: managed.brokers, managed };
}

/**
 * Brings up Postgres and Kafka (reusing a healthy running stack), waits until both accept
 * connections, and records what it started. On failure it stops whatever this call started.
 */
export async function stackUp(options: StackOptions = {}): Promise<StackInfo> {
  const resolved = resolveOptions(options);
  return withStateLock(resolved.stateDir, async () => {
    const previous = await readState(resolved.stateDir);
    const [pgHealthy, kafkaHealthy] = previous
      ? await Promise.all([isPostgresHealthy(previous.postgres), isKafkaHealthy(previous.kafka)])
      : [false, false];
    if (previous && pgHealthy && kafkaHealthy) {
      return { databaseUrl: previous.postgres.url, kafkaBrokers: previous.kafka.brokers, reused: true, state: previous };
    }
    // Whatever of a previous stack died is cleaned up before its replacement starts.
    if (previous && !pgHealthy && previous.postgres.managed) await stopPostgres(previous.postgres.managed);
    if (previous && !kafkaHealthy && previous.kafka.managed) await stopKafka(previous.kafka.managed, { removeData: true });

    const started: { postgres?: ManagedPostgres; kafka?: ManagedKafka } = {};
    // Both run to the end even if one fails, so whatever the other started is known and stopped.
    const [postgres, kafka] = await Promise.allSettled([
      previous && pgHealthy ? previous.postgres : upPostgres({ ...resolved, freshPostgres: options.freshPostgres }, started),
      previous && kafkaHealthy ? previous.kafka : upKafka(resolved, started),
    ]);
    try {
      if (postgres.status === 'rejected') throw postgres.reason;
      if (kafka.status === 'rejected') throw kafka.reason;
      const state: StackState = { version: 1, startedAt: new Date().toISOString(), postgres: postgres.value, kafka: kafka.value };
      await writeState(resolved.stateDir, state);
      return { databaseUrl: state.postgres.url, kafkaBrokers: state.kafka.brokers, reused: false, state };
    } catch (error) {
      await Promise.allSettled([
        started.postgres && stopPostgres(started.postgres),
        started.kafka && stopKafka(started.kafka, { removeData: true }),
      ]);
      throw error;
    }
  });
}

export interface StackDownResult {
  stopped: string[];
  left: string[];
}

/** Stops exactly what `up` started and removes its throwaway data; leaves servers it only used. */
export async function stackDown(options: StackOptions = {}): Promise<StackDownResult> {
  const resolved = resolveOptions(options);
  return withStateLock(resolved.stateDir, async () => {
    const state = await readState(resolved.stateDir);
    const result: StackDownResult = { stopped: [], left: [] };
    if (!state) {
      const orphan = await stopUnrecordedKafka(join(resolved.stateDir, 'kafka'));
      if (orphan) result.stopped.push(`kafka (pid ${orphan}, left by an interrupted stack up)`);
      return result;
    }
    if (state.kafka.managed) {
      await stopKafka(state.kafka.managed, { removeData: true });
      await rm(join(resolved.stateDir, 'kafka'), { recursive: true, force: true });
      result.stopped.push(`kafka (pid ${state.kafka.managed.pid})`);
    } else result.left.push(`kafka at ${state.kafka.brokers} (not started by stack up)`);
    if (state.postgres.managed) {
      await stopPostgres(state.postgres.managed, { log: resolved.log });
      result.stopped.push(`postgres (pid ${state.postgres.managed.pid})`);
    } else result.left.push(`postgres at ${redact(state.postgres.url)} (not started by stack up)`);
    await removeState(resolved.stateDir);
    return result;
  });
}

export interface ComponentStatus {
  mode: string;
  url: string;
  managed: boolean;
  pid?: number;
  healthy: boolean;
  logFile?: string;
  version?: string;
}

export interface StackStatus {
  running: boolean;
  stateDir: string;
  postgres?: ComponentStatus;
  kafka?: ComponentStatus;
}

export async function stackStatus(options: StackOptions = {}): Promise<StackStatus> {
  const resolved = resolveOptions(options);
  const state = await readState(resolved.stateDir);
  if (!state) return { running: false, stateDir: resolved.stateDir };
  const [pgHealthy, kafkaHealthy] = await Promise.all([isPostgresHealthy(state.postgres), isKafkaHealthy(state.kafka)]);
  return {
    running: pgHealthy && kafkaHealthy,
    stateDir: resolved.stateDir,
    postgres: {
      mode: state.postgres.mode,
      url: redact(state.postgres.url),
      managed: Boolean(state.postgres.managed),
      pid: state.postgres.managed?.pid,
      healthy: pgHealthy,
      logFile: state.postgres.managed?.logFile,
    },
    kafka: {
      mode: state.kafka.mode,
      url: state.kafka.brokers,
      managed: Boolean(state.kafka.managed),
      pid: state.kafka.managed?.pid,
      healthy: kafkaHealthy,
      logFile: state.kafka.managed?.logFile,
      version: state.kafka.managed?.version,
    },
  };
}

/** The connection settings of the running stack, for `stack env`. */
export async function stackEnv(options: StackOptions = {}): Promise<{ databaseUrl: string; kafkaBrokers: string }> {
  const resolved = resolveOptions(options);
  const state = await readState(resolved.stateDir);
  if (!state) {
    throw new OperationError('no local stack is recorded', { hint: 'run `paymentsctl stack up` first' });
  }
  return { databaseUrl: state.postgres.url, kafkaBrokers: state.kafka.brokers };
}
