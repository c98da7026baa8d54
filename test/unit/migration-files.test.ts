import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checksum, loadMigrations } from '../../src/migrate/files.js';
import { OperationError } from '../../src/errors.js';

describe('migration files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'paymentsctl-files-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads NNN_name.sql files in numeric order with checksums', async () => {
    await writeFile(join(dir, '010_ten.sql'), 'SELECT 10;');
    await writeFile(join(dir, '002_two.sql'), 'SELECT 2;');
    await writeFile(join(dir, 'README.md'), 'not a migration');
    const files = await loadMigrations(dir);
    expect(files.map((f) => f.name)).toEqual(['002_two.sql', '010_ten.sql']);
    expect(files[0]!.checksum).toBe(checksum('SELECT 2;'));
  });

  it('treats CRLF and LF copies of a file as the same migration', () => {
    expect(checksum('A;\r\nB;\r\n')).toBe(checksum('A;\nB;\n'));
    expect(checksum('A;')).not.toBe(checksum('B;'));
  });

  it('rejects badly named files and duplicate numbers', async () => {
    await writeFile(join(dir, 'init.sql'), 'SELECT 1;');
    await expect(loadMigrations(dir)).rejects.toThrow(/init.sql is not named NNN_description.sql/);
    await rm(join(dir, 'init.sql'));
    await writeFile(join(dir, '001_a.sql'), 'SELECT 1;');
    await writeFile(join(dir, '0001_b.sql'), 'SELECT 1;');
    await expect(loadMigrations(dir)).rejects.toBeInstanceOf(OperationError);
  });
});
