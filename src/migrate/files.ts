import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperationError } from '../errors.js';
import { packageRoot } from '../stack/paths.js';

export interface MigrationFile {
  version: number;
  /** the file name, e.g. 001_initial.sql — what history records and reports show */
  name: string;
  sql: string;
  checksum: string;
}

const MIGRATION_NAME = /^(\d+)_[A-Za-z0-9_-]+\.sql$/;

export function defaultMigrationsDir(): string {
  return join(packageRoot(), 'sql');
}

export function checksum(sql: string): string {
  // Line endings are normalised so a checkout with CRLF does not count as drift.
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

export async function loadMigrations(dir = defaultMigrationsDir()): Promise<MigrationFile[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    throw new OperationError(`cannot read the migrations directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const files: MigrationFile[] = [];
  for (const name of entries.filter((entry) => entry.endsWith('.sql')).sort()) {
    const match = MIGRATION_NAME.exec(name);
    if (!match) {
      throw new OperationError(`migration file ${name} is not named NNN_description.sql`, {
        hint: 'rename it, e.g. 002_add_index.sql',
      });
    }
    const sql = await readFile(join(dir, name), 'utf8');
    files.push({ version: Number(match[1]), name, sql, checksum: checksum(sql) });
  }
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.version === files[i - 1]!.version) {
      throw new OperationError(`two migrations share number ${files[i]!.version}: ${files[i - 1]!.name} and ${files[i]!.name}`);
    }
  }
  return files;
}
