import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { ManagedKafka } from './kafka.js';
import type { ManagedPostgres } from './postgres.js';
import type { ManagedStripeEmulator } from './stripe-emulator.js';

/**
 * `stack.json` records exactly what `stack up` started, so `down` stops that and nothing else.
 */
export interface StackState {
  version: 1;
  startedAt: string;
  postgres: {
    /** env: DATABASE_URL given; existing: a server on 127.0.0.1:5432; managed: our throwaway cluster */
    mode: 'env' | 'existing' | 'managed';
    url: string;
    managed?: ManagedPostgres;
  };
  kafka: {
    mode: 'env' | 'managed';
    brokers: string;
    managed?: ManagedKafka;
  };
  /** env: STRIPE_API_BASE given; none: a real Stripe key and no base (or --no-stripe-emulator); managed: our emulator */
  stripe?: {
    mode: 'env' | 'none' | 'managed';
    apiBase?: string;
    managed?: ManagedStripeEmulator;
  };
}

const stateFile = (stateDir: string) => join(stateDir, 'stack.json');

export async function readState(stateDir: string): Promise<StackState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(stateDir), 'utf8')) as StackState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function writeState(stateDir: string, state: StackState): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const tmp = `${stateFile(stateDir)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, stateFile(stateDir));
}

export async function removeState(stateDir: string): Promise<void> {
  await rm(stateFile(stateDir), { force: true });
}

/** Serialises `up` and `down` on one state directory (two terminals, or parallel test workers). */
export async function withStateLock<T>(stateDir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(stateDir, { recursive: true });
  const release = await lockfile.lock(stateDir, {
    lockfilePath: join(stateDir, 'stack.lock'),
    // A broker may take a minute to start; a second `up` waits for the first.
    retries: { retries: 600, minTimeout: 200, maxTimeout: 500 },
    // A holder killed with SIGKILL cannot release; its lock counts as abandoned after this long.
    stale: 10_000,
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}
