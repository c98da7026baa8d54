import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `stack up` keeps its state file, broker data and logs. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PAYMENTSCTL_STATE_DIR) return env.PAYMENTSCTL_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'paymentsctl');
}

/** Where resolved Kafka jars are cached between runs (outside the repository). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PAYMENTSCTL_CACHE_DIR) return env.PAYMENTSCTL_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'paymentsctl');
}

/** The package root (holds `sql/` and `infra/`), both from `src/` under tests and from `dist/`. */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}
