import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stackUp, stackDown } from '../../src/stack/stack.js';
import { ensureDatabase, dropDatabase } from '../../src/db/databases.js';
import { withDatabase } from '../../src/db/connect.js';
import { loadMigrations } from '../../src/migrate/files.js';
import { migrateDatabase } from '../../src/migrate/migrator.js';
import { createLogger } from '../../src/log.js';

export interface TestStack {
  /** any database of the test server, for CREATE/DROP DATABASE */
  adminUrl: string;
  kafkaBrokers: string;
  /** a migrated database to clone per test file */
  templateDatabase: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}

export default async function setup(project: TestProject) {
  const stateDir = await mkdtemp(join(tmpdir(), 'paymentsctl-test-stack-'));
  const log = createLogger({ level: 'warn', pretty: false });
  const started = Date.now();
  // Tests that need Stripe start an emulator of their own, in process.
  const info = await stackUp({ stateDir, log, timeoutMs: 120_000, stripeEmulator: false });
  const templateDatabase = `paymentsctl_template_${process.pid}`;
  await ensureDatabase(info.databaseUrl, templateDatabase);
  const report = await migrateDatabase(withDatabase(info.databaseUrl, templateDatabase), await loadMigrations(), { mode: 'apply' });
  if (!report.ok) throw new Error(`migrating the test template failed: ${report.error}`);
  process.stderr.write(
    `test stack: postgres ${info.state.postgres.mode}, kafka ${info.state.kafka.mode} ${info.kafkaBrokers} ` +
      `(${info.state.kafka.managed?.version ?? 'external'}), ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  project.provide('stack', { adminUrl: info.databaseUrl, kafkaBrokers: info.kafkaBrokers, templateDatabase });

  return async () => {
    await dropDatabase(info.databaseUrl, templateDatabase).catch(() => undefined);
    await stackDown({ stateDir, log });
    await rm(stateDir, { recursive: true, force: true });
  };
}
