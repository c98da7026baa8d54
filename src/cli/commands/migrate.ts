import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { collect, settingOption } from '../options.js';
import { printResult } from '../print.js';
import type { MigrateMode } from '../../migrate/migrator.js';
import { UsageError } from '../../errors.js';

interface MigrateFlags {
  databaseUrl?: string[];
  databaseSslCaFile?: string;
  tenantsFile?: string;
  status?: boolean;
  dryRun?: boolean;
  lockTimeout: string;
  concurrency: string;
  migrationsDir?: string;
}

export function migrateCommand(ctx: () => CliContext): Command {
  return new Command('migrate')
    .summary('apply the SQL migrations to one or many (per-tenant) databases')
    .description(
      'Apply the numbered SQL files in sql/ to one or many (per-tenant) databases.\n' +
        'Each file runs in its own transaction and is recorded with its checksum in paymentsctl_migrations;\n' +
        'the run holds an advisory lock, so concurrent migrators (replicas, Jobs) are safe.\n' +
        'An applied file whose content changed is refused. Exit 1 if any database failed; 3 if none\n' +
        'could be reached. Roles check the schema at start and wait for this (--wait-for-migrations).',
    )
    .addOption(settingOption('databaseUrl', 'database to migrate; repeat for several').argParser(collect))
    .addOption(settingOption('databaseSslCaFile'))
    .option('--tenants-file <path>', 'file with one database URL per line (# comments allowed)')
    .option('--status', 'show applied and pending migrations; change nothing')
    .option('--dry-run', 'print the SQL that would run; change nothing')
    .option('--lock-timeout <duration>', 'how long to wait for another migrator', '60s')
    .option('--concurrency <n>', 'databases migrated at once', '4')
    .option('--migrations-dir <dir>', 'directory of NNN_name.sql files (default: the bundled sql/)')
    .addHelpText(
      'after',
      '\nJSON output (--json):\n  {"databases":[{"database":"<name>","target":"host:port/db","ok":true,"applied":[...],"pending":[...]}]}\n' +
        '  applied: files this run applied (with --status/--dry-run: files applied before)\n',
    )
    .action(async (flags: MigrateFlags) => {
      const c = ctx();
      const { urls, files, ...options } = await parseFlags(flags);
      const { migrateDatabases, migrationExitCode } = await import('../../migrate/migrator.js');
      const { renderMigrationReports } = await import('../../ui/migrate.js');
      const reports = await migrateDatabases(urls, files, { ...options, log: c.log });
      await printResult(
        c,
        reports,
        (result) => renderMigrationReports(result, options.mode),
        (databases) => ({ databases }),
      );
      c.exitCode = migrationExitCode(reports);
    });
}

async function parseFlags(flags: MigrateFlags) {
  if (flags.status && flags.dryRun) throw new UsageError('--status and --dry-run cannot be combined');
  const { databaseUrl, validateDatabaseUrl, withDatabaseCa, durationMs, positiveInt } = await import('../../config.js');
  const { readTenantsFile } = await import('../../migrate/tenants.js');
  const { loadMigrations } = await import('../../migrate/files.js');
  // 0 would mean "wait forever" to PostgreSQL: not a timeout.
  const lockTimeoutMs = durationMs(flags.lockTimeout, '--lock-timeout', { min: 1 });
  const concurrency = positiveInt(flags.concurrency, '--concurrency', { max: 64 });
  const urls = [
    ...(flags.databaseUrl ?? []).map((url) => validateDatabaseUrl(url, '--database-url')),
    ...(flags.tenantsFile ? await readTenantsFile(flags.tenantsFile) : []),
  ];
  if (urls.length === 0) urls.push(databaseUrl(flags));
  // The CA setting applies to every database named, tenants' too.
  for (const [index, url] of urls.entries()) urls[index] = withDatabaseCa(url, flags);
  const mode: MigrateMode = flags.status ? 'status' : flags.dryRun ? 'dry-run' : 'apply';
  return { urls, files: await loadMigrations(flags.migrationsDir), mode, lockTimeoutMs, concurrency };
}
