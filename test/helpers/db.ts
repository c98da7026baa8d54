import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { ensureDatabase, dropDatabase } from '../../src/db/databases.js';
import { withDatabase } from '../../src/db/connect.js';
import { pgConnection } from '../../src/db/tls.js';

export interface TestDatabase {
  name: string;
  url: string;
  drop: () => Promise<void>;
}

function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A fresh database cloned from the migrated template: full schema, no rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const { adminUrl, templateDatabase } = inject('stack');
  return create(adminUrl, uniqueName('t'), templateDatabase);
}

/** A fresh, empty database (nothing migrated), for migrator tests. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const { adminUrl } = inject('stack');
  return create(adminUrl, uniqueName('t_empty'));
}

async function create(adminUrl: string, name: string, template?: string): Promise<TestDatabase> {
  await ensureDatabase(adminUrl, name, template);
  return { name, url: withDatabase(adminUrl, name), drop: () => dropDatabase(adminUrl, name) };
}

/**
 * A pool for a test's own queries. Dropping the database (WITH FORCE) may terminate a connection
 * the pool is still closing; the listener keeps that from surfacing as an uncaught error.
 */
export function testPool(url: string, max = 8): pg.Pool {
  const pool = new pg.Pool({ ...pgConnection(url), max });
  pool.on('error', () => undefined);
  return pool;
}
