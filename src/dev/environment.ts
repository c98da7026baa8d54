import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rawSetting, topicPrefix as topicPrefixSetting } from '../config.js';
import { createStripeClient } from '../stripe/client.js';
import { databaseName, withDatabase } from '../db/connect.js';
import { dropDatabase, ensureDatabase } from '../db/databases.js';
import { errorMessage, OperationError, UnavailableError, UsageError } from '../errors.js';
import { createKafka, parseBrokers } from '../kafka/client.js';
import { ensurePipelineTopics } from '../kafka/ensure.js';
import { deleteTopicsAndWait, plannedTopics } from '../kafka/topics.js';
import type { Logger } from '../log.js';
import { loadMigrations } from '../migrate/files.js';
import { migrateDatabase } from '../migrate/migrator.js';
import { defaultStateDir } from '../stack/paths.js';
import { freePort } from '../stack/ports.js';
import { startPostgres, stopPostgres, type ManagedPostgres } from '../stack/postgres.js';
import { isProcessAlive, recordPid, stopRecordedProcess } from '../stack/process.js';
import { stackDown, stackStatus, stackUp, stackVariables, type StackInfo } from '../stack/stack.js';
import { EMULATOR_API_KEY, isStripeReachable } from '../stack/stripe-emulator.js';
import { EmulatorAdminClient } from '../stripe-emulator/admin-client.js';
import { ROLE_NAMES } from './types.js';

/**
 * Where one `dev` run happens: the local stack (brought up or reused), and, on it, a database and
 * a topic prefix of the run's own, so a run never mixes with another run or with a developer's
 * data, and a receiver endpoint registered with the emulator.
 */
export interface DevEnvironment {
  runId: string;
  /** role logs and pid files */
  runDir: string;
  /** this run brought the stack up, so it also takes it down (unless --keep) */
  ownsStack: boolean;
  /**
   * --chaos-infra: the run's own throwaway PostgreSQL cluster, the only one it may restart (a
   * server it did not start is never touched); stopped and removed with the run
   */
  ownPostgres?: { current: ManagedPostgres };
  /** the server's database the stack hands out, for CREATE/DROP DATABASE */
  adminUrl: string;
  databaseUrl: string;
  brokers: string[];
  topicPrefix: string;
  topics: string[];
  stripeApiBase: string;
  stripeApiKey: string;
  emulator: EmulatorAdminClient;
  webhookPort: number;
  webhookPath: string;
  webhookEndpointId: string;
  webhookSecret: string;
}

export interface PrepareOptions {
  runId: string;
  partitions: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** reports each setup step as it starts, for the person waiting */
  step?: (text: string) => void;
  /** run on a PostgreSQL cluster of the run's own, and refuse a broker the stack did not start */
  chaosInfra?: boolean;
}

const WEBHOOK_PATH = '/webhook/stripe';
const runsDir = (env: NodeJS.ProcessEnv) => join(defaultStateDir(env), 'dev');

export async function prepareEnvironment(options: PrepareOptions): Promise<DevEnvironment> {
  const { env, log, runId } = options;
  const step = options.step ?? (() => undefined);
  refuseLiveKey(env);
  await stopOrphanedRoles(env, log);
  const runDir = join(runsDir(env), runId);
  await mkdir(runDir, { recursive: true });
  await recordPid(join(runDir, 'dev.pid'), process.pid);

  const before = await stackStatus({ env });
  step(
    before.running
      ? 'reusing the running local stack'
      : 'starting the local stack (PostgreSQL, Kafka, Stripe emulator); the first run downloads Kafka',
  );
  const stack = await stackUp({ env, log });
  const ownsStack = !before.postgres && !stack.reused;
  let createdDatabase: string | undefined;
  let ownPostgres: ManagedPostgres | undefined;
  try {
    const stripe = await stripeOf(stack, env);
    if (options.chaosInfra) {
      if (!stack.state.kafka.managed) {
        throw new UsageError(
          '--chaos-infra kills and restarts the Kafka broker, and this stack uses one it did not start (KAFKA_BROKERS)',
          {
            hint: 'unset KAFKA_BROKERS, run `paymentsctl stack down`, and run `dev --chaos-infra` again: the stack then starts a broker of its own',
          },
        );
      }
      step('starting a throwaway PostgreSQL cluster of this run’s own, to restart during the run');
      ownPostgres = await startPostgres({ log });
    }
    const adminUrl = ownPostgres ? ownPostgres.adminUrl : stack.databaseUrl;
    step(`creating this run's database and Kafka topics (run ${runId})`);
    const name = `paymentsctl_dev_${runId}`;
    await ensureDatabase(adminUrl, name);
    createdDatabase = name;
    const databaseUrl = withDatabase(adminUrl, name);
    const report = await migrateDatabase(databaseUrl, await loadMigrations(), { mode: 'apply', log });
    if (!report.ok) throw new OperationError(`migrating ${name} failed: ${report.error}`);

    const brokers = parseBrokers(stack.kafkaBrokers);
    const topicPrefix = `${topicPrefixSetting({}, env)}dev-${runId}.`;
    // A broker that just started can answer before a new topic's leaders are known; once more is enough.
    const ensure = () => ensurePipelineTopics({ brokers, prefix: topicPrefix, partitions: options.partitions, log });
    await ensure().catch(async () => ensure());
    const topics = plannedTopics({ prefix: topicPrefix, partitions: options.partitions, replicationFactor: 1 }).map((topic) => topic.name);

    const webhookPort = await freePort();
    const endpoint = await createStripeClient({ apiKey: stripe.apiKey, apiBase: stripe.apiBase }).webhookEndpoints.create({
      url: `http://127.0.0.1:${webhookPort}${WEBHOOK_PATH}`,
      enabled_events: ['*'],
      description: `paymentsctl dev run ${runId}`,
    });
    await writeFile(
      join(runDir, 'run.json'),
      `${JSON.stringify({ runId, database: name, topicPrefix, webhookEndpoint: endpoint.id }, null, 2)}\n`,
    );
    return {
      runId,
      runDir,
      ownsStack,
      ...(ownPostgres ? { ownPostgres: { current: ownPostgres } } : {}),
      adminUrl,
      databaseUrl,
      brokers,
      topicPrefix,
      topics,
      stripeApiBase: stripe.apiBase,
      stripeApiKey: stripe.apiKey,
      emulator: stripe.emulator,
      webhookPort,
      webhookPath: WEBHOOK_PATH,
      webhookEndpointId: endpoint.id,
      webhookSecret: endpoint.secret as string,
    };
  } catch (error) {
    // Nothing ran yet, so there is nothing to inspect: leave no half-made run behind.
    if (createdDatabase && !ownPostgres) await dropDatabase(stack.databaseUrl, createdDatabase).catch(() => undefined);
    if (ownPostgres) await stopPostgres(ownPostgres).catch(() => undefined);
    if (ownsStack) await stackDown({ env, log }).catch(() => undefined);
    throw error;
  }
}

/** The variables the roles run with: the stack's, pointed at this run's database and topics. */
export function roleVariables(dev: DevEnvironment): Record<string, string> {
  return {
    DATABASE_URL: dev.databaseUrl,
    KAFKA_BROKERS: dev.brokers.join(','),
    KAFKA_TOPIC_PREFIX: dev.topicPrefix,
    STRIPE_API_BASE: dev.stripeApiBase,
    STRIPE_API_KEY: dev.stripeApiKey,
    STRIPE_WEBHOOK_SECRET: dev.webhookSecret,
  };
}

/**
 * Removes what the run made: its webhook endpoint, database, topics, consumer group and logs, and
 * the stack if the run started it. Each part is attempted even if another fails.
 */
export async function teardownEnvironment(
  dev: DevEnvironment,
  options: { env: NodeJS.ProcessEnv; log: Logger; workerGroup: string },
): Promise<void> {
  const { log } = options;
  const attempt = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      log.warn({ err: errorMessage(error) }, `could not remove ${what}`);
    }
  };
  await attempt('the webhook endpoint', () =>
    createStripeClient({ apiKey: dev.stripeApiKey, apiBase: dev.stripeApiBase }).webhookEndpoints.del(dev.webhookEndpointId),
  );
  await attempt(`database ${databaseName(dev.databaseUrl)}`, () => dropDatabase(dev.adminUrl, databaseName(dev.databaseUrl)));
  await attempt('the Kafka topics', async () => {
    const admin = createKafka({ brokers: dev.brokers, log, clientId: 'paymentsctl-dev', retries: 2 }).admin();
    await admin.connect();
    try {
      await admin.deleteGroups([options.workerGroup]).catch(() => undefined);
      const left = await deleteTopicsAndWait(admin, dev.topics);
      if (left.length) throw new Error(`${left.length} topic(s) still listed after 60 s: ${left.join(', ')}`);
    } finally {
      await admin.disconnect();
    }
  });
  await attempt('the run directory', () => rm(dev.runDir, { recursive: true, force: true }));
  if (dev.ownPostgres) await attempt("the run's PostgreSQL cluster", () => stopPostgres(dev.ownPostgres!.current));
  if (dev.ownsStack) await attempt('the local stack', () => stackDown({ env: options.env, log }));
}

function refuseLiveKey(env: NodeJS.ProcessEnv): void {
  const key = rawSetting('stripeApiKey', {}, env)?.value;
  if (key && /^(sk|rk)_live_/.test(key)) {
    throw new UsageError('`dev` places hundreds of test orders and must never run with a live Stripe key', {
      hint: 'unset STRIPE_API_KEY (and STRIPE_API_BASE) so that `dev` uses the built-in Stripe emulator',
    });
  }
}

/** `dev` completes Checkout pages and counts charges through the emulator's admin API: it needs one. */
async function stripeOf(
  stack: StackInfo,
  env: NodeJS.ProcessEnv,
): Promise<{ apiBase: string; apiKey: string; emulator: EmulatorAdminClient }> {
  const vars = stackVariables(stack.state);
  const apiBase = vars.STRIPE_API_BASE;
  const hint =
    'unset STRIPE_API_BASE and STRIPE_API_KEY, then run `paymentsctl stack down` and `dev` again: it starts the built-in emulator';
  if (!apiBase) throw new UsageError('`dev` needs the Stripe emulator, but the local stack runs without one', { hint });
  // Real Stripe has no /_emulator/health.
  if (!(await isStripeReachable(apiBase))) {
    throw new UnavailableError(`STRIPE_API_BASE (${apiBase}) is not a paymentsctl Stripe emulator, or it does not answer`, { hint });
  }
  return {
    apiBase,
    apiKey: vars.STRIPE_API_KEY ?? rawSetting('stripeApiKey', {}, env)?.value ?? EMULATOR_API_KEY,
    emulator: new EmulatorAdminClient(apiBase),
  };
}

/**
 * A `dev` that was itself killed leaves its roles running; the next run stops them. A run whose
 * `dev` still lives (another terminal, --keep) is left alone.
 */
async function stopOrphanedRoles(env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  const dir = runsDir(env);
  const runs = await readdir(dir).catch(() => [] as string[]);
  for (const run of runs) {
    const pid = Number(await readFile(join(dir, run, 'dev.pid'), 'utf8').catch(() => ''));
    if (pid && isProcessAlive(pid)) continue;
    for (const role of ROLE_NAMES) {
      const stopped = await stopRecordedProcess(join(dir, run, `${role}.pid`), ['paymentsctl'], 10_000);
      if (stopped) log.warn({ run, role, pid: stopped }, 'stopped a role left running by an interrupted dev run');
    }
  }
}
