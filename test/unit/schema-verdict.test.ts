import { describe, expect, it } from 'vitest';
import { checksum, type MigrationFile } from '../../src/migrate/files.js';
import { compareSchema, describeVerdict } from '../../src/migrate/schema.js';

const file = (version: number, name: string, sql = `SELECT ${version};`): MigrationFile => ({
  version,
  name: `${String(version).padStart(3, '0')}_${name}.sql`,
  sql,
  checksum: checksum(sql),
});
const shipped = [file(1, 'initial'), file(2, 'orders'), file(3, 'tombstones')];
const applied = (...files: MigrationFile[]) => files.map((f) => ({ name: f.name, checksum: f.checksum }));

describe('compareSchema', () => {
  it('is current when every shipped file is applied and nothing else', () => {
    expect(compareSchema(shipped, applied(...shipped))).toEqual({ state: 'current', at: '003_tombstones.sql' });
  });

  it('is behind with the pending files, also when there is no history table at all', () => {
    expect(compareSchema(shipped, applied(shipped[0]!))).toEqual({
      state: 'behind',
      at: '001_initial.sql',
      needs: '003_tombstones.sql',
      pending: ['002_orders.sql', '003_tombstones.sql'],
    });
    expect(compareSchema(shipped, undefined)).toMatchObject({ state: 'behind', at: undefined, pending: shipped.map((f) => f.name) });
    expect(compareSchema(shipped, [])).toMatchObject({ state: 'behind', at: undefined });
  });

  it('is ahead when the database has migrations this binary does not know, and says what else is pending', () => {
    const future = file(4, 'future');
    expect(compareSchema(shipped, applied(...shipped, future))).toEqual({
      state: 'ahead',
      at: '004_future.sql',
      needs: '003_tombstones.sql',
      unknown: ['004_future.sql'],
      pending: [],
    });
    // another branch's migration applied in place of ours: ahead first, ours still pending
    expect(compareSchema(shipped, applied(shipped[0]!, future))).toMatchObject({
      state: 'ahead',
      pending: ['002_orders.sql', '003_tombstones.sql'],
    });
  });

  it('is drifted when an applied file changed, before anything else', () => {
    const edited = { ...applied(...shipped)[1]!, checksum: checksum('SELECT 2; -- edited') };
    expect(compareSchema(shipped, [applied(shipped[0]!)[0]!, edited, file(9, 'unknown')])).toEqual({
      state: 'drifted',
      at: '009_unknown.sql',
      drifted: ['002_orders.sql'],
    });
  });
});

describe('describeVerdict', () => {
  it('names the database, where it is and what this binary needs', () => {
    expect(describeVerdict('db:5432/app', compareSchema(shipped, applied(shipped[0]!, shipped[1]!)))).toBe(
      'database db:5432/app is at 002_orders.sql, this binary needs 003_tombstones.sql (pending: 003_tombstones.sql)',
    );
    expect(describeVerdict('db:5432/app', compareSchema(shipped, undefined))).toContain('has no migrations applied, this binary needs 003');
    expect(describeVerdict('db:5432/app', compareSchema(shipped, applied(...shipped, file(4, 'future'))))).toContain(
      'newer than this binary knows (it ships up to 003_tombstones.sql; unknown: 004_future.sql)',
    );
  });
});
