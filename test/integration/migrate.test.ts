import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createEmptyDatabase, type TestDatabase } from '../helpers/db.js';
import { parseJson, runCli } from '../helpers/cli.js';
import { defaultMigrationsDir } from '../../src/migrate/files.js';

interface MigrateJson {
  databases: { database: string; ok: boolean; applied: string[]; pending: string[]; error?: string; unreachable?: boolean }[];
}

const databases: TestDatabase[] = [];
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createEmptyDatabase();
  databases.push(db);
  return db;
}

afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const allMigrations = async () => (await readdir(defaultMigrationsDir())).filter((f) => f.endsWith('.sql')).sort();

describe('paymentsctl migrate', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase();
  });

  it('applies every file on a fresh database, then applies nothing on a second run', async () => {
    const first = await runCli(['migrate', '--json'], { DATABASE_URL: db.url });
    expect(first.exitCode, first.stderr).toBe(0);
    const firstJson = parseJson<MigrateJson>(first.stdout);
    expect(firstJson.databases).toHaveLength(1);
    expect(firstJson.databases[0]).toMatchObject({ database: db.name, ok: true, applied: await allMigrations(), pending: [] });

    const tables = await query<{ table_name: string }>(
      db.url,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['outbox', 'payments', 'processed_messages', 'webhook_events', 'paymentsctl_migrations']),
    );

    const second = await runCli(['migrate', '--json'], { DB_DSN: db.url });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(parseJson<MigrateJson>(second.stdout).databases[0]).toMatchObject({ ok: true, applied: [], pending: [] });
  });

  it('lets three concurrent runs on one database apply each file exactly once, all exiting 0', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => runCli(['migrate', '--json', '--database-url', db.url])));
    for (const run of runs) expect(run.exitCode, run.stderr).toBe(0);
    const appliedByRuns = runs.flatMap((run) => parseJson<MigrateJson>(run.stdout).databases[0]!.applied);
    expect(appliedByRuns.sort()).toEqual(await allMigrations());
    const history = await query<{ name: string; n: string }>(
      db.url,
      'SELECT name, count(*) AS n FROM paymentsctl_migrations GROUP BY name',
    );
    expect(history.every((row) => row.n === '1')).toBe(true);
    expect(history.map((row) => row.name).sort()).toEqual(await allMigrations());
  });

  it('refuses to run when an applied file changed, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paymentsctl-sql-'));
    try {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      expect((await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: db.url })).exitCode).toBe(0);
      const first = join(dir, (await allMigrations())[0]!);
      await writeFile(first, `${await readFile(first, 'utf8')}\n-- edited after it was applied\n`);
      await writeFile(join(dir, '999_later.sql'), 'CREATE TABLE later (id int);\n');

      const drift = await runCli(['migrate', '--json', '--migrations-dir', dir], { DATABASE_URL: db.url });
      expect(drift.exitCode).toBe(1);
      const report = parseJson<MigrateJson>(drift.stdout).databases[0]!;
      expect(report.ok).toBe(false);
      expect(report.error).toContain((await allMigrations())[0]);
      expect(report.error).toMatch(/changed since applied/);
      expect(report.pending).toEqual(['999_later.sql']);
      // Nothing after the drift was applied.
      expect(await query(db.url, `SELECT 1 FROM information_schema.tables WHERE table_name = 'later'`)).toHaveLength(0);

      const text = await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: db.url });
      expect(text.exitCode).toBe(1);
      expect(text.stdout).toMatch(/changed since applied/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rolls back a failing file completely and reports it with its line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paymentsctl-sql-'));
    try {
      await writeFile(join(dir, '001_ok.sql'), 'CREATE TABLE one (id int);\n');
      await writeFile(join(dir, '002_broken.sql'), 'CREATE TABLE two (id int);\nCREATE TABLE three (id nosuchtype);\n');
      const run = await runCli(['migrate', '--json', '--migrations-dir', dir], { DATABASE_URL: db.url });
      expect(run.exitCode).toBe(1);
      const report = parseJson<MigrateJson>(run.stdout).databases[0]!;
      expect(report).toMatchObject({ ok: false, applied: ['001_ok.sql'], pending: ['002_broken.sql'] });
      expect(report.error).toMatch(/002_broken\.sql failed \(line 2\)/);
      expect(await query(db.url, `SELECT 1 FROM information_schema.tables WHERE table_name = 'two'`)).toHaveLength(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--status and --dry-run report without changing anything', async () => {
    const status = await runCli(['migrate', '--status', '--json'], { DATABASE_URL: db.url });
    expect(status.exitCode, status.stderr).toBe(0);
    expect(parseJson<MigrateJson>(status.stdout).databases[0]).toMatchObject({ applied: [], pending: await allMigrations() });

    const dry = await runCli(['migrate', '--dry-run'], { DATABASE_URL: db.url });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('CREATE TABLE outbox');
    expect(
      await query(db.url, `SELECT 1 FROM information_schema.tables WHERE table_name IN ('outbox', 'paymentsctl_migrations')`),
    ).toHaveLength(0);

    expect((await runCli(['migrate'], { DATABASE_URL: db.url })).exitCode).toBe(0);
    const after = await runCli(['migrate', '--status', '--json'], { DATABASE_URL: db.url });
    expect(parseJson<MigrateJson>(after.stdout).databases[0]).toMatchObject({ applied: await allMigrations(), pending: [] });
  });

  it('migrates per-tenant databases independently: one unreachable tenant fails alone and sets exit 1', async () => {
    const other = await freshDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'paymentsctl-tenants-'));
    try {
      const unreachable = 'postgres://postgres:tenant-pw-123456@127.0.0.1:1/tenant_gone';
      const tenantsFile = join(dir, 'tenants.txt');
      await writeFile(tenantsFile, `# tenants\n${db.url}\n\n${unreachable}\n`);
      const run = await runCli(['migrate', '--json', '--tenants-file', tenantsFile, '--database-url', other.url]);
      expect(run.exitCode).toBe(1);
      const reports = parseJson<MigrateJson>(run.stdout).databases;
      expect(reports).toHaveLength(3);
      const byName = new Map(reports.map((r) => [r.database, r]));
      expect(byName.get(db.name)).toMatchObject({ ok: true, applied: await allMigrations() });
      expect(byName.get(other.name)).toMatchObject({ ok: true, applied: await allMigrations() });
      expect(byName.get('tenant_gone')).toMatchObject({ ok: false, applied: [] });
      expect(byName.get('tenant_gone')!.error).toMatch(/cannot connect/);
      // The tenant's password never reaches output or logs.
      expect(run.stdout + run.stderr).not.toContain('tenant-pw-123456');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 3 when no database can be reached at all (an outage, not a failed migration)', async () => {
    const run = await runCli([
      'migrate',
      '--json',
      '--database-url',
      'postgres://postgres@127.0.0.1:1/gone_a',
      '--database-url',
      'postgres://postgres@127.0.0.1:1/gone_b',
    ]);
    expect(run.exitCode, run.stderr).toBe(3);
    const reports = parseJson<MigrateJson>(run.stdout).databases;
    expect(reports.map((r) => [r.database, r.ok, r.unreachable])).toEqual([
      ['gone_a', false, true],
      ['gone_b', false, true],
    ]);
  });
});
