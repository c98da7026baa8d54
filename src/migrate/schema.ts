import type { MigrationFile } from './files.js';

/** One row of the migration history, as a role reads it. */
export interface AppliedMigration {
  name: string;
  checksum: string;
}

/**
 * How a database's schema compares with the migrations this binary ships:
 * - current: every shipped file applied, nothing else;
 * - behind: files pending (also when there is no history table at all: `at` is undefined);
 * - ahead: migrations applied that this binary does not know (an older image during a rollback);
 * - drifted: an applied file's content changed since it was applied.
 */
export type SchemaVerdict =
  | { state: 'current'; at: string | undefined }
  | { state: 'behind'; at: string | undefined; needs: string; pending: string[] }
  | { state: 'ahead'; at: string; needs: string | undefined; unknown: string[]; pending: string[] }
  | { state: 'drifted'; at: string | undefined; drifted: string[] };

/**
 * Compares the applied history (undefined: no history table) with the shipped files. Drift is
 * reported before anything else: a database whose files changed is not one to reason about further.
 * A database both ahead and behind (another branch's migrations) counts as ahead.
 */
export function compareSchema(files: readonly MigrationFile[], history: readonly AppliedMigration[] | undefined): SchemaVerdict {
  const applied = history ?? [];
  const at = applied.at(-1)?.name;
  const needs = files.at(-1)?.name;
  const shipped = new Map(files.map((file) => [file.name, file]));
  const drifted = applied.filter((row) => {
    const file = shipped.get(row.name);
    return file !== undefined && file.checksum !== row.checksum;
  });
  if (drifted.length) return { state: 'drifted', at, drifted: drifted.map((row) => row.name) };
  const done = new Set(applied.map((row) => row.name));
  const pending = files.filter((file) => !done.has(file.name)).map((file) => file.name);
  const unknown = applied.filter((row) => !shipped.has(row.name)).map((row) => row.name);
  if (unknown.length) return { state: 'ahead', at: at!, needs, unknown, pending };
  if (pending.length) return { state: 'behind', at, needs: needs!, pending };
  return { state: 'current', at };
}

/** The verdict in one line for logs, /readyz and errors. */
export function describeVerdict(database: string, verdict: SchemaVerdict): string {
  const at = verdict.at ? `is at ${verdict.at}` : 'has no migrations applied';
  switch (verdict.state) {
    case 'current':
      return `database ${database} ${at}, as this binary needs`;
    case 'behind':
      return `database ${database} ${at}, this binary needs ${verdict.needs} (pending: ${verdict.pending.join(', ')})`;
    case 'ahead':
      return (
        `database ${database} ${at}, newer than this binary knows (it ships up to ${verdict.needs ?? 'nothing'}; ` +
        `unknown: ${verdict.unknown.join(', ')})`
      );
    case 'drifted':
      return `database ${database} has applied migrations whose files changed since: ${verdict.drifted.join(', ')}`;
  }
}
