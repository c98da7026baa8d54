import pg from 'pg';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { createRegistry } from '../metrics.js';
import { GroupCommitStore } from './batcher.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { WebhookReceiver } from './receiver.js';
import { startWebhookServer } from './server.js';

export const WEBHOOK_DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  path: '/webhook/stripe',
  toleranceSeconds: 300,
  maxBodyBytes: 1024 * 1024,
  poolSize: 8,
} as const;

export interface WebhookServiceOptions {
  databaseUrl: string;
  brokers: string[];
  /** empty: the server still runs (probes work) and answers every delivery 503 */
  secrets: readonly string[];
  host?: string;
  port?: number;
  path?: string;
  toleranceSeconds?: number;
  maxBodyBytes?: number;
  /** PostgreSQL connections; each request in flight holds one for its transaction */
  poolSize?: number;
  /** serve /healthz, /readyz and /metrics on their own listener instead of the webhook port */
  metricsPort?: number;
  metricsHost?: string;
  log: Logger;
  registry?: Registry;
  /** unix seconds; tests move the clock */
  nowSeconds?: () => number;
}

export interface RunningWebhookService {
  /** http://host:port of the webhook listener */
  url: string;
  port: number;
  path: string;
  /** the port of /healthz, /readyz, /metrics (the webhook port unless metricsPort was given) */
  opsPort: number;
  metrics: WebhookMetrics;
  registry: Registry;
  /** graceful: stop accepting, answer what is in flight, then release the database and Kafka */
  close: () => Promise<void>;
}

/** Everything `paymentsctl webhook-serve` runs, for the CLI and for in-process use (tests, `dev`). */
export async function startWebhookService(options: WebhookServiceOptions): Promise<RunningWebhookService> {
  const log = options.log;
  const path = normalisePath(options.path ?? WEBHOOK_DEFAULTS.path);
  const registry = options.registry ?? createRegistry('webhook-serve');
  const metrics = createWebhookMetrics(registry);
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    connectionTimeoutMillis: 10_000,
    application_name: 'paymentsctl-webhook-serve',
    max: options.poolSize ?? WEBHOOK_DEFAULTS.poolSize,
    // Queries are sent without waiting for the previous answer: a transaction takes three round
    // trips instead of six (see store.ts). Round trips, not SQL, bound this service.
    pipeline: true,
  });
  // An idle connection whose server goes away emits 'error'; the next query reports it instead.
  pool.on('error', () => undefined);
  const readiness = new Readiness({ pool, brokers: options.brokers, log });
  const store = new GroupCommitStore(pool, {
    source: 'paymentsctl/webhook-serve',
    // Few transactions in flight make each one bigger, and a transaction costs its round trips and
    // its commit far more than its rows: measured here (README, benchmark), two in flight did better
    // than one, four or eight. The other connections serve events recorded alone.
    maxConcurrentBatches: Math.max(1, Math.min(2, (options.poolSize ?? WEBHOOK_DEFAULTS.poolSize) - 1)),
    onBatch: (size) => metrics.batchSize.observe(size),
    onBatchFailed: (error, size) =>
      log.warn({ err: error, events: size }, 'a group of webhook events failed to commit together; recording each on its own'),
  });
  const receiver = new WebhookReceiver({
    store,
    secrets: options.secrets,
    toleranceSeconds: options.toleranceSeconds ?? WEBHOOK_DEFAULTS.toleranceSeconds,
    metrics,
    log,
    ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
  });
  if (!receiver.configured) {
    log.warn(
      'no webhook secret configured (STRIPE_WEBHOOK_SECRET, alias STRIPE_WEBHOOK_KEY): every delivery will be answered 503 until one is set',
    );
  }
  const separateOps = options.metricsPort !== undefined;
  const ops = { registry, ready: () => readiness.check() };
  let opsServer: { close: () => Promise<unknown>; port: number } | undefined;
  const cleanup = async () => {
    await readiness.close();
    await pool.end().catch(() => undefined);
  };
  try {
    const web = await startWebhookServer({
      host: options.host ?? WEBHOOK_DEFAULTS.host,
      port: options.port ?? WEBHOOK_DEFAULTS.port,
      path,
      maxBodyBytes: options.maxBodyBytes ?? WEBHOOK_DEFAULTS.maxBodyBytes,
      receiver,
      metrics,
      log,
      ...(separateOps ? {} : { ops }),
    });
    if (separateOps) {
      const { startOpsServer } = await import('../http/ops-server.js');
      const started = await startOpsServer({
        host: options.metricsHost ?? WEBHOOK_DEFAULTS.host,
        port: options.metricsPort!,
        registry,
        ready: async () => (await readiness.check()).ready,
        log,
      }).catch(async (error: unknown) => {
        await web.close();
        throw error;
      });
      opsServer = { port: started.port, close: () => started.server.close() };
    }
    log.info(
      { url: web.url, port: web.port, path, secrets: options.secrets.length, opsPort: opsServer?.port ?? web.port },
      `webhook-serve listening on ${web.url}${path}`,
    );
    let closing: Promise<void> | undefined;
    return {
      url: web.url,
      port: web.port,
      path,
      opsPort: opsServer?.port ?? web.port,
      metrics,
      registry,
      close: () =>
        (closing ??= (async () => {
          // The webhook listener first: what it has accepted still needs the pool to commit.
          await web.close();
          await opsServer?.close();
          await cleanup();
        })()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function normalisePath(path: string): string {
  const trimmed = path.trim();
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}
