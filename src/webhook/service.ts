import type pg from 'pg';
import type { Registry } from 'prom-client';
import { createPool } from '../db/connect.js';
import type { KafkaSecurity } from '../kafka/security.js';
import type { Logger } from '../log.js';
import { createRegistry } from '../metrics.js';
import type { Role } from '../role.js';
import { GroupCommitStore } from './batcher.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
import { Readiness, type ReadinessReport } from './readiness.js';
import { WebhookReceiver } from './receiver.js';
import { startWebhookServer, type RunningWebhookServer } from './server.js';
import { WEBHOOK_EVENT_SOURCE } from './store.js';

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
  /** TLS and SASL for Kafka (config.ts `kafkaSecurity`); default PLAINTEXT */
  kafkaSecurity?: KafkaSecurity;
  /** empty: the server still runs (probes work) and answers every delivery 503 */
  secrets: readonly string[];
  host?: string;
  port?: number;
  path?: string;
  toleranceSeconds?: number;
  maxBodyBytes?: number;
  /** PostgreSQL connections; each request in flight holds one for its transaction */
  poolSize?: number;
  /**
   * serve /healthz, /readyz and /metrics on the webhook port (default true); false when they have
   * a listener of their own (`webhook-serve --metrics-port`)
   */
  opsOnWebhookPort?: boolean;
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
  metrics: WebhookMetrics;
  registry: Registry;
  /** graceful: stop accepting, answer what is in flight, then release the database and Kafka */
  close: () => Promise<void>;
}

/** Everything `paymentsctl webhook-serve` runs, for the CLI (as a Role) and for in-process use (tests). */
export class WebhookService implements Role, RunningWebhookService {
  readonly path: string;
  readonly registry: Registry;
  readonly metrics: WebhookMetrics;
  private readonly pool: pg.Pool;
  private readonly readiness: Readiness;
  private readonly receiver: WebhookReceiver;
  private web: RunningWebhookServer | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: WebhookServiceOptions) {
    const log = options.log;
    const poolSize = options.poolSize ?? WEBHOOK_DEFAULTS.poolSize;
    this.path = normalisePath(options.path ?? WEBHOOK_DEFAULTS.path);
    this.registry = options.registry ?? createRegistry('webhook-serve');
    this.metrics = createWebhookMetrics(this.registry);
    this.pool = createPool(options.databaseUrl, {
      applicationName: 'paymentsctl-webhook-serve',
      log,
      max: poolSize,
      // Queries are sent without waiting for the previous answer: a transaction takes three round
      // trips instead of six (see store.ts). Round trips, not SQL, bound this service.
      pipeline: true,
    });
    this.readiness = new Readiness({ pool: this.pool, brokers: options.brokers, kafkaSecurity: options.kafkaSecurity, log });
    const store = new GroupCommitStore(this.pool, {
      source: WEBHOOK_EVENT_SOURCE,
      // Few transactions in flight make each one bigger, and a transaction costs its round trips and
      // its commit far more than its rows: measured here (README, benchmark), two in flight did better
      // than one, four or eight. The other connections serve events recorded alone.
      maxConcurrentBatches: Math.max(1, Math.min(2, poolSize - 1)),
      onBatch: (size) => this.metrics.batchSize.observe(size),
      onBatchFailed: (error, size) =>
        log.warn({ err: error, events: size }, 'a group of webhook events failed to commit together; recording each on its own'),
    });
    this.receiver = new WebhookReceiver({
      store,
      secrets: options.secrets,
      toleranceSeconds: options.toleranceSeconds ?? WEBHOOK_DEFAULTS.toleranceSeconds,
      metrics: this.metrics,
      log,
      ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
    });
  }

  get url(): string {
    return this.listening().url;
  }

  get port(): number {
    return this.listening().port;
  }

  async start(): Promise<void> {
    const { options, path } = this;
    if (!this.receiver.configured) {
      options.log.warn(
        'no webhook secret configured (STRIPE_WEBHOOK_SECRET, alias STRIPE_WEBHOOK_KEY): every delivery will be answered 503 until one is set',
      );
    }
    try {
      this.web = await startWebhookServer({
        host: options.host ?? WEBHOOK_DEFAULTS.host,
        port: options.port ?? WEBHOOK_DEFAULTS.port,
        path,
        maxBodyBytes: options.maxBodyBytes ?? WEBHOOK_DEFAULTS.maxBodyBytes,
        receiver: this.receiver,
        metrics: this.metrics,
        log: options.log,
        ...(options.opsOnWebhookPort === false ? {} : { ops: { registry: this.registry, ready: () => this.isReady(), log: options.log } }),
      });
    } catch (error) {
      await this.release();
      throw error;
    }
    options.log.info(
      { url: this.web.url, port: this.web.port, path, secrets: options.secrets.length },
      `webhook-serve listening on ${this.web.url}${path}`,
    );
  }

  /** Ready when the database and Kafka answer; the body says which one does not. */
  isReady(): Promise<ReadinessReport> {
    return this.readiness.check().catch((error: unknown) => ({ ready: false, database: String(error), kafka: 'unknown' }));
  }

  dependencies(): Promise<Record<string, string>> {
    return this.readiness.dependencies();
  }

  stop(): Promise<void> {
    return (this.closing ??= (async () => {
      // The webhook listener first: what it has accepted still needs the pool to commit.
      await this.web?.close();
      await this.release();
    })());
  }

  close(): Promise<void> {
    return this.stop();
  }

  private async release(): Promise<void> {
    await this.readiness.close();
    await this.pool.end().catch(() => undefined);
  }

  private listening(): RunningWebhookServer {
    if (!this.web) throw new Error('webhook service is not listening yet: start() it first');
    return this.web;
  }
}

/** Starts the webhook service in this process (tests, scripts); close() stops it. */
export async function startWebhookService(options: WebhookServiceOptions): Promise<RunningWebhookService> {
  const service = new WebhookService(options);
  await service.start();
  return service;
}

function normalisePath(path: string): string {
  const trimmed = path.trim();
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}
