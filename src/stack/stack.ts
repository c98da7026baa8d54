import { dirname, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { UnavailableError, OperationError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDatabase, withDatabase } from '../db/databases.js';
import { kafkaBrokers as brokersSetting, rawSetting, stripeApiBase, validateDatabaseUrl } from '../config.js';
import { redact } from '../redact.js';
import {
  DEFAULT_LOCAL_POSTGRES_URL,
  haltPostgres,
  isPostgresReachable,
  resumePostgres,
  startPostgres,
  stopPostgres,
  type ManagedPostgres,
} from './postgres.js';
import { portFreeWithin } from './ports.js';
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
import {
  EMULATOR_API_KEY,
  isStripeReachable,
  startStripeEmulatorProcess,
  stopStripeEmulator,
  stopUnrecordedStripeEmulator,
  type ManagedStripeEmulator,
} from './stripe-emulator.js';
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
  /** start the Stripe emulator unless STRIPE_API_BASE or a Stripe key is configured (default true) */
  stripeEmulator?: boolean;
  log?: Logger;
  timeoutMs?: number;
}

export interface StackInfo {
  databaseUrl: string;
  kafkaBrokers: string;
  stripeApiBase?: string;
  reused: boolean;
  state: StackState;
}

/** The variables a shell (or a role) needs to use the stack; secrets only for the local emulator. */
export function stackVariables(state: StackState): Record<string, string> {
  return {
    DATABASE_URL: state.postgres.url,
    KAFKA_BROKERS: state.kafka.brokers,
    ...(state.stripe?.apiBase ? { STRIPE_API_BASE: state.stripe.apiBase } : {}),
    ...(state.stripe?.managed ? { STRIPE_API_KEY: EMULATOR_API_KEY, STRIPE_WEBHOOK_SECRET: state.stripe.managed.webhookSecret } : {}),
  };
}

function infoOf(state: StackState, reused: boolean): StackInfo {
  return {
    databaseUrl: state.postgres.url,
    kafkaBrokers: state.kafka.brokers,
    ...(state.stripe?.apiBase ? { stripeApiBase: state.stripe.apiBase } : {}),
    reused,
    state,
  };
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

async function isStripeHealthy(state: StackState['stripe']): Promise<boolean> {
  if (!state) return false;
  if (!state.managed) return true;
  return isProcessAlive(state.managed.pid) && isStripeReachable(state.managed.apiBase);
}

async function upStripe(
  options: ReturnType<typeof resolveOptions> & { stripeEmulator?: boolean },
  started: { stripe?: ManagedStripeEmulator },
): Promise<NonNullable<StackState['stripe']>> {
  const { env } = options;
  const apiBase = stripeApiBase({}, env);
  if (apiBase) return { mode: 'env', apiBase };
  // A Stripe key without a base means the real Stripe API: nothing to start.
  if (rawSetting('stripeApiKey', {}, env) || options.stripeEmulator === false) return { mode: 'none' };
  const workDir = join(options.stateDir, 'stripe');
  const orphan = await stopUnrecordedStripeEmulator(workDir);
  if (orphan) options.log?.warn({ pid: orphan }, 'stopped a Stripe emulator left by an interrupted stack up');
  const managed = await startStripeEmulatorProcess({ workDir, log: options.log });
  started.stripe = managed;
  return { mode: 'managed', apiBase: managed.apiBase, managed };
}

async function upPostgres(
  options: ReturnType<typeof resolveOptions> & { freshPostgres?: boolean },
  started: { postgres?: ManagedPostgres },
): Promise<StackState['postgres']> {
  const given = rawSetting('databaseUrl', {}, options.env);
  if (given) {
    const url = validateDatabaseUrl(given.value, given.source);
    if (!(await isPostgresReachable(url, 5000))) {
      throw new UnavailableError(`${given.source} is set but PostgreSQL does not accept connections there (${redact(url)})`, {
        hint: `start that server, or unset ${given.source} to let \`stack up\` find or start one`,
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

async function upKafka(options: ReturnType<typeof resolveOptions>, started: { kafka?: ManagedKafka }): Promise<StackState['kafka']> {
  if (rawSetting('kafkaBrokers', {}, options.env)) {
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

async function revivePostgres(state: StackState['postgres'], log: Logger | undefined): Promise<StackState['postgres']> {
  const managed = state.managed!;
  log?.warn({ port: managed.port, dir: managed.dir }, 'the local PostgreSQL cluster is down; starting it again on its port with its data');
  if (isProcessAlive(managed.pid)) await haltPostgres(managed, 'immediate');
  return { ...state, managed: await resumePostgres(managed) };
}

async function reviveKafka(state: StackState['kafka'], options: ReturnType<typeof resolveOptions>): Promise<StackState['kafka']> {
  const previous = state.managed!;
  options.log?.warn({ brokers: previous.brokers }, 'the local Kafka broker is down; starting it again on its ports with its data');
  // A broker that runs but does not answer is stopped first; its data stays.
  await stopKafka(previous, { graceMs: 5_000 });
  for (const port of [previous.port, previous.controllerPort]) {
    if (!(await portFreeWithin(port))) {
      throw new UnavailableError(`cannot start Kafka again on 127.0.0.1:${port}: another process listens there now`, {
        hint: `every client expects the broker at ${previous.brokers}; stop whatever took port ${port} and run \`paymentsctl stack up\` again, or \`stack down\` then \`stack up\` for a new broker (its topics are lost)`,
      });
    }
  }
  const managed = await startKafka({
    version: previous.version,
    workDir: dirname(previous.dataDir),
    cacheDir: options.cacheDir,
    log: options.log,
    timeoutMs: options.timeoutMs,
    port: previous.port,
    controllerPort: previous.controllerPort,
  });
  return { ...state, brokers: managed.brokers, managed };
}

async function reviveStripe(
  state: NonNullable<StackState['stripe']>,
  options: ReturnType<typeof resolveOptions>,
): Promise<NonNullable<StackState['stripe']>> {
  const previous = state.managed!;
  const workDir = join(options.stateDir, 'stripe');
  options.log?.warn({ apiBase: previous.apiBase }, 'the local Stripe emulator is down; starting it again on its port');
  await stopStripeEmulator(previous, workDir);
  if (!(await portFreeWithin(previous.port))) {
    throw new UnavailableError(`cannot start the Stripe emulator again on 127.0.0.1:${previous.port}: another process listens there now`, {
      hint: `clients expect it at ${previous.apiBase}; stop whatever took port ${previous.port} and run \`paymentsctl stack up\` again`,
    });
  }
  const managed = await startStripeEmulatorProcess({
    workDir,
    log: options.log,
    port: previous.port,
    webhookSecret: previous.webhookSecret,
  });
  return { ...state, apiBase: managed.apiBase, managed };
}

/**
 * Brings up Postgres and Kafka (reusing a healthy running stack), waits until both accept
 * connections, and records what it started. On failure it stops whatever this call started.
 */
export async function stackUp(options: StackOptions = {}): Promise<StackInfo> {
  const resolved = resolveOptions(options);
  return withStateLock(resolved.stateDir, async () => {
    const previous = await readState(resolved.stateDir);
    const [pgHealthy, kafkaHealthy, stripeHealthy] = previous
      ? await Promise.all([isPostgresHealthy(previous.postgres), isKafkaHealthy(previous.kafka), isStripeHealthy(previous.stripe)])
      : [false, false, false];
    if (previous && pgHealthy && kafkaHealthy && stripeHealthy) return infoOf(previous, true);

    const started: { postgres?: ManagedPostgres; kafka?: ManagedKafka; stripe?: ManagedStripeEmulator } = {};
    // A part of a previous stack that died comes back where its clients expect it: same port, same
    // data. One we did not start is only waited for. All run to the end even if one fails, so
    // whatever the others started is known and stopped.
    const [postgres, kafka, stripe] = await Promise.allSettled([
      previous && pgHealthy
        ? previous.postgres
        : previous?.postgres.managed
          ? revivePostgres(previous.postgres, resolved.log)
          : upPostgres({ ...resolved, freshPostgres: options.freshPostgres }, started),
      previous && kafkaHealthy
        ? previous.kafka
        : previous?.kafka.managed
          ? reviveKafka(previous.kafka, resolved)
          : upKafka(resolved, started),
      previous?.stripe && stripeHealthy
        ? previous.stripe
        : previous?.stripe?.managed
          ? reviveStripe(previous.stripe, resolved)
          : upStripe({ ...resolved, stripeEmulator: options.stripeEmulator }, started),
    ]);
    try {
      for (const part of [postgres, kafka, stripe]) if (part.status === 'rejected') throw part.reason;
      const state: StackState = {
        version: 1,
        startedAt: new Date().toISOString(),
        postgres: (postgres as PromiseFulfilledResult<StackState['postgres']>).value,
        kafka: (kafka as PromiseFulfilledResult<StackState['kafka']>).value,
        stripe: (stripe as PromiseFulfilledResult<NonNullable<StackState['stripe']>>).value,
      };
      await writeState(resolved.stateDir, state);
      return infoOf(state, false);
    } catch (error) {
      // A part brought back runs again under a new pid: record it, or the next `up` would find
      // its port taken by itself.
      if (previous) await writeState(resolved.stateDir, revivedState(previous, { postgres, kafka, stripe }, started));
      await Promise.allSettled([
        started.postgres && stopPostgres(started.postgres),
        started.kafka && stopKafka(started.kafka, { removeData: true }),
        started.stripe && stopStripeEmulator(started.stripe, join(resolved.stateDir, 'stripe')),
      ]);
      throw error;
    }
  });
}

/** The previous state with each part that was brought back (not newly started) as it runs now. */
function revivedState(
  previous: StackState,
  parts: {
    postgres: PromiseSettledResult<StackState['postgres']>;
    kafka: PromiseSettledResult<StackState['kafka']>;
    stripe: PromiseSettledResult<NonNullable<StackState['stripe']>>;
  },
  started: { postgres?: unknown; kafka?: unknown; stripe?: unknown },
): StackState {
  const kept = <T>(part: PromiseSettledResult<T>, fresh: unknown, old: T): T => (part.status === 'fulfilled' && !fresh ? part.value : old);
  return {
    ...previous,
    postgres: kept(parts.postgres, started.postgres, previous.postgres),
    kafka: kept(parts.kafka, started.kafka, previous.kafka),
    ...(previous.stripe ? { stripe: kept(parts.stripe, started.stripe, previous.stripe) } : {}),
  };
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
      const emulator = await stopUnrecordedStripeEmulator(join(resolved.stateDir, 'stripe'));
      if (emulator) result.stopped.push(`stripe emulator (pid ${emulator}, left by an interrupted stack up)`);
      return result;
    }
    if (state.stripe?.managed) {
      await stopStripeEmulator(state.stripe.managed, join(resolved.stateDir, 'stripe'));
      await rm(join(resolved.stateDir, 'stripe'), { recursive: true, force: true });
      result.stopped.push(`stripe emulator (pid ${state.stripe.managed.pid})`);
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
  stripe?: ComponentStatus;
}

export async function stackStatus(options: StackOptions = {}): Promise<StackStatus> {
  const resolved = resolveOptions(options);
  const state = await readState(resolved.stateDir);
  if (!state) return { running: false, stateDir: resolved.stateDir };
  const [pgHealthy, kafkaHealthy, stripeHealthy] = await Promise.all([
    isPostgresHealthy(state.postgres),
    isKafkaHealthy(state.kafka),
    isStripeHealthy(state.stripe),
  ]);
  return {
    running: pgHealthy && kafkaHealthy && stripeHealthy,
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
    ...(state.stripe && state.stripe.mode !== 'none'
      ? {
          stripe: {
            mode: state.stripe.mode,
            url: state.stripe.apiBase ?? '',
            managed: Boolean(state.stripe.managed),
            pid: state.stripe.managed?.pid,
            healthy: stripeHealthy,
            logFile: state.stripe.managed?.logFile,
          },
        }
      : {}),
  };
}

/** The running stack, for `stack env`. */
export async function stackEnv(options: StackOptions = {}): Promise<StackInfo> {
  const resolved = resolveOptions(options);
  const state = await readState(resolved.stateDir);
  if (!state) {
    throw new OperationError('no local stack is recorded', { hint: 'run `paymentsctl stack up` first' });
  }
  return infoOf(state, true);
}
