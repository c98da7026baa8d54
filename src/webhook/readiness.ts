import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import type { KafkaSecurity } from '../kafka/security.js';
import type { Logger } from '../log.js';
import { redact } from '../redact.js';

export type ReadinessReport = {
  ready: boolean;
  database: string;
  kafka: string;
};

export interface ReadinessOptions {
  pool: pg.Pool;
  brokers: string[];
  /** TLS and SASL for Kafka (config.ts `kafkaSecurity`); default PLAINTEXT */
  kafkaSecurity?: KafkaSecurity;
  log: Logger;
  /** a result is reused this long: probes from several kubelets and scrapers must not hammer the broker */
  cacheMs?: number;
  /** each check gives up after this long */
  timeoutMs?: number;
  /** log "ready" / "not ready" when the answer changes (default true) */
  logChanges?: boolean;
}

/**
 * Ready when the database answers (events are recorded there before any 2xx) and the Kafka
 * cluster answers a metadata request (the outbox publisher needs it to deliver what we record).
 */
export class Readiness {
  private admin: Admin | undefined;
  private adminConnected: Promise<void> | undefined;
  private last: { at: number; report: ReadinessReport } | undefined;
  private inFlight: Promise<ReadinessReport> | undefined;
  private closed = false;

  constructor(private readonly options: ReadinessOptions) {}

  /** The database's and Kafka's answers alone: what the outage limit watches. */
  async dependencies(): Promise<Record<string, string>> {
    const { database, kafka } = await this.check();
    return { database, kafka };
  }

  async check(): Promise<ReadinessReport> {
    const cacheMs = this.options.cacheMs ?? 5_000;
    if (this.last && Date.now() - this.last.at < cacheMs) return this.last.report;
    this.inFlight ??= this.run().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.dropAdmin();
  }

  private async run(): Promise<ReadinessReport> {
    const [database, kafka] = await Promise.all([
      this.probe(() => this.options.pool.query('SELECT 1')),
      this.probe(() => this.kafkaCheck()),
    ]);
    const report = { ready: database === 'ok' && kafka === 'ok', database, kafka };
    if (this.options.logChanges !== false && this.last?.report.ready !== report.ready) {
      this.options.log[report.ready ? 'info' : 'warn']({ database, kafka }, report.ready ? 'ready' : 'not ready');
    }
    this.last = { at: Date.now(), report };
    return report;
  }

  private async probe(work: () => Promise<unknown>): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        work(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return 'ok';
    } catch (error) {
      return redact(errorMessage(error));
    } finally {
      clearTimeout(timer);
    }
  }

  private async kafkaCheck(): Promise<void> {
    if (this.closed) throw new Error('shutting down');
    if (!this.admin) {
      // No retries of its own: a probe wants the state now, and is asked again in a few seconds.
      // kafkajs' own log stays silent: the state changes are logged once each by run().
      this.admin = createKafka({
        brokers: this.options.brokers,
        clientId: 'paymentsctl-webhook-readiness',
        security: this.options.kafkaSecurity,
        retries: 0,
        connectionTimeoutMs: 2_000,
        requestTimeoutMs: 2_000,
      }).admin();
      this.adminConnected = this.admin.connect();
    }
    try {
      await this.adminConnected;
      await this.admin.describeCluster();
    } catch (error) {
      await this.dropAdmin();
      throw error;
    }
  }

  private async dropAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    this.adminConnected = undefined;
    await admin?.disconnect().catch(() => undefined);
  }
}
