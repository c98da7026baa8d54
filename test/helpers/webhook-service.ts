import type pg from 'pg';
import { inject } from 'vitest';
import { createLogger } from '../../src/log.js';
import { startWebhookService, type RunningWebhookService, type WebhookServiceOptions } from '../../src/webhook/service.js';
import { createTestDatabase, testPool, type TestDatabase } from './db.js';

type ServiceOptions = Partial<Omit<WebhookServiceOptions, 'databaseUrl' | 'secrets'>> & { secrets: readonly string[] };

/** The webhook service in this process on a free port, on the test stack's broker unless told otherwise, logging nothing. */
export function startTestWebhookService(databaseUrl: string, options: ServiceOptions): Promise<RunningWebhookService> {
  return startWebhookService({
    databaseUrl,
    brokers: inject('stack').kafkaBrokers.split(','),
    host: '127.0.0.1',
    port: 0,
    log: createLogger({ level: 'silent' }),
    ...options,
  });
}

/** A webhook service on a test database of its own; `pool` is for the test's own queries. */
export interface WebhookFixture {
  db: TestDatabase;
  pool: pg.Pool;
  service: RunningWebhookService;
  /** the URL Stripe would POST to */
  hook: string;
  close: () => Promise<void>;
}

export async function startWebhookFixture(options: ServiceOptions): Promise<WebhookFixture> {
  const db = await createTestDatabase();
  const pool = testPool(db.url);
  const release = async () => {
    await pool.end();
    await db.drop();
  };
  let service: RunningWebhookService;
  try {
    service = await startTestWebhookService(db.url, options);
  } catch (error) {
    await release();
    throw error;
  }
  return {
    db,
    pool,
    service,
    hook: `${service.url}/webhook/stripe`,
    close: async () => {
      await service.close();
      await release();
    },
  };
}
