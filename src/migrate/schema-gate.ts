import { setTimeout as sleep } from 'node:timers/promises';
import { SchemaMismatchError, UnavailableError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { connectClient, describeTarget } from '../db/connect.js';
import type { MigrationFile } from './files.js';
import { readHistory } from './migrator.js';
import { compareSchema, describeVerdict, type SchemaVerdict } from './schema.js';

export interface SchemaGateSettings {
  databaseUrls: string[];
  /** how long a database may stay behind (or unreachable) before the role gives up; 0 = refuse at once */
  waitMs: number;
  /** start against applied migrations this binary does not know (a rollback to an older image) */
  allowNewer: boolean;
}

export interface SchemaGateOptions extends SchemaGateSettings {
  files: readonly MigrationFile[];
  log: Logger;
  /** aborting ends the wait early (SIGTERM while waiting): awaitSchema then resolves 'aborted' */
  signal?: AbortSignal;
  /** told what the gate waits for, for /readyz */
  onWaiting?: (reason: string) => void;
  pollMs?: number;
  remindMs?: number;
}

type Look = { target: string; verdict: SchemaVerdict } | { target: string; unreachable: string };

async function look(url: string, files: readonly MigrationFile[]): Promise<Look> {
  const target = describeTarget(url);
  try {
    const client = await connectClient(url, { applicationName: 'paymentsctl schema check', connectionTimeoutMs: 5_000 });
    try {
      return { target, verdict: compareSchema(files, await readHistory(client)) };
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    return { target, unreachable: errorMessage(error) };
  }
}

/**
 * Holds a role back until every database it uses has the schema this binary ships. Behind (or not
 * reachable yet) is normal for a few seconds while the migrate Job runs beside the role's pods, so
 * it waits, saying so once and then every 30 s; past `waitMs` it gives up. Ahead and drifted are
 * deployment mistakes and are refused at once.
 */
export async function awaitSchema(options: SchemaGateOptions): Promise<'current' | 'aborted'> {
  const started = Date.now();
  const pollMs = options.pollMs ?? 1_000;
  const remindMs = options.remindMs ?? 30_000;
  const warnedNewer = new Set<string>();
  let lastReminder = -Infinity;
  for (;;) {
    const looks = await Promise.all(options.databaseUrls.map((url) => look(url, options.files)));
    const waitingFor: string[] = [];
    let unreachableOnly = true;
    for (const result of looks) {
      if ('unreachable' in result) {
        waitingFor.push(`database ${result.target} is unreachable (${result.unreachable})`);
        continue;
      }
      const { verdict, target } = result;
      if (verdict.state === 'drifted') {
        throw new SchemaMismatchError(describeVerdict(target, verdict), {
          hint: 'never edit an applied migration: deploy the image whose files match, or restore them and add a new numbered migration',
        });
      }
      if (verdict.state === 'ahead' && !options.allowNewer) {
        throw new SchemaMismatchError(describeVerdict(target, verdict), {
          hint:
            'run the image that applied those migrations, or pass --allow-newer-schema if this binary is known to work ' +
            'with them (migrations are written to be backwards compatible for one release)',
        });
      }
      if (verdict.state === 'ahead' && !warnedNewer.has(target)) {
        warnedNewer.add(target);
        options.log.warn(
          { database: target, unknown: verdict.unknown },
          `${describeVerdict(target, verdict)}: starting anyway (--allow-newer-schema)`,
        );
      }
      if (verdict.state === 'behind' || (verdict.state === 'ahead' && verdict.pending.length)) {
        unreachableOnly = false;
        waitingFor.push(
          describeVerdict(target, verdict.state === 'ahead' ? { ...verdict, state: 'behind', needs: verdict.needs! } : verdict),
        );
      }
    }
    if (waitingFor.length === 0) return 'current';

    const reason = waitingFor.join('; ');
    options.onWaiting?.(reason);
    const waited = Date.now() - started;
    if (waited >= options.waitMs) {
      const targets = looks.map((l) => l.target).join(', ');
      if (unreachableOnly) {
        throw new UnavailableError(`${reason}; gave up after ${seconds(waited)} (--wait-for-migrations)`, {
          hint: 'check DATABASE_URL and that the server accepts connections',
        });
      }
      throw new SchemaMismatchError(`${reason}; gave up after ${seconds(waited)} (--wait-for-migrations)`, {
        hint: `run \`paymentsctl migrate\` against ${targets} (in Kubernetes: the migrate Job), then start this role again`,
      });
    }
    if (Date.now() - lastReminder >= remindMs) {
      lastReminder = Date.now();
      options.log.warn({ waitedMs: waited, limitMs: options.waitMs }, `${reason}: waiting for \`paymentsctl migrate\``);
    }
    try {
      await sleep(Math.min(pollMs, Math.max(0, options.waitMs - waited)), undefined, { signal: options.signal });
    } catch {
      return 'aborted';
    }
    if (options.signal?.aborted) return 'aborted';
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * For operator commands that write (reconcile, replay): the schema must be the one this binary
 * ships, now — no waiting. Behind, ahead or drifted exits 2; an unreachable database exits 3.
 */
export async function requireCurrentSchema(databaseUrl: string, log: Logger): Promise<void> {
  const { loadMigrations } = await import('./files.js');
  await awaitSchema({ databaseUrls: [databaseUrl], waitMs: 0, allowNewer: false, files: await loadMigrations(), log });
}
