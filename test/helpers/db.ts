import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { ensureDatabase, dropDatabase } from '../../src/db/databases.js';
import { withDatabase } from '../../src/db/connect.js';

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
