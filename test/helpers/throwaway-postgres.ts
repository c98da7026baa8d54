import { ensureDatabase } from '../../src/db/databases.js';
import { withDatabase } from '../../src/db/connect.js';
import { loadMigrations } from '../../src/migrate/files.js';
import { migrateDatabase } from '../../src/migrate/migrator.js';
import { haltPostgres, resumePostgres, startPostgres, stopPostgres, type ManagedPostgres } from '../../src/stack/postgres.js';

/**
 * A PostgreSQL cluster of the test's own (initdb/pg_ctl in a temp dir, its own port), so that the
 * test may restart it and keep it down: never the machine's server, which other tests use.
 */
export interface ThrowawayPostgres {
  /** the migrated pipeline database on it */
  url: string;
  port: number;
  /** stops the server (fast shutdown: every connection is terminated); its data stays */
  halt: (mode?: 'fast' | 'immediate') => Promise<void>;
  /** starts it again on the same port with the same data */
  resume: () => Promise<void>;
  /** halt and resume at once: a restart of about a second */
  restart: () => Promise<void>;
  close: () => Promise<void>;
}

export async function startThrowawayPostgres(database = 'pipeline'): Promise<ThrowawayPostgres> {
  let cluster: ManagedPostgres = await startPostgres();
  await ensureDatabase(cluster.adminUrl, database);
  const url = withDatabase(cluster.adminUrl, database);
  const report = await migrateDatabase(url, await loadMigrations(), { mode: 'apply' });
  if (!report.ok) throw new Error(`migrating the throwaway cluster failed: ${report.error}`);
  const resume = async () => {
    cluster = await resumePostgres(cluster);
  };
  const halt = (mode: 'fast' | 'immediate' = 'fast') => haltPostgres(cluster, mode);
  return {
    url,
    port: cluster.port,
    halt,
    resume,
    restart: async () => {
      await halt();
      await resume();
    },
    close: () => stopPostgres(cluster),
  };
}
