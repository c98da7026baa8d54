import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { SETTINGS, STORE_SECURITY_SETTINGS } from '../../src/settings.js';

export const BIN = fileURLToPath(new URL('../../bin/paymentsctl.js', import.meta.url));

/** Settings a developer's shell may export; removed so each test states what it passes. */
const AMBIENT = [
  ...STORE_SECURITY_SETTINGS.flatMap((name) => SETTINGS[name].env),
  'DATABASE_URL',
  'DB_DSN',
  'KAFKA_BROKERS',
  'KAFKA_TOPIC_PREFIX',
  'KAFKA_VERSION',
  'STRIPE_API_KEY',
  'STRIPE_KEY',
  'STRIPE_API_BASE',
  'STRIPE_WEBHOOK_SECRET',
  'STRIPE_WEBHOOK_KEY',
  'LOG_LEVEL',
];

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** This process's environment without the developer's own settings, plus `env`. */
export function childEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const name of AMBIENT) delete base[name];
  return { ...base, ...env };
}

/** Spawns the built binary, as a user would run it. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number } = {},
): Promise<CliResult> {
  const result = await execa(process.execPath, [BIN, ...args], {
    env: childEnv(env),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    timeout: options.timeoutMs ?? 240_000,
  });
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
}

/**
 * Runs the CLI in this process through `main(argv, io)`, with only `env`'s settings in the
 * environment while it runs: for cases that end before anything starts (usage and configuration
 * errors). What only a real process shows (exit status, stdout/stderr separation) stays with runCli.
 */
export async function runMain(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const saved = Object.fromEntries(AMBIENT.map((name) => [name, process.env[name]]));
  for (const name of AMBIENT) delete process.env[name];
  Object.assign(process.env, env);
  let stdout = '';
  let stderr = '';
  try {
    const exitCode = await main(['node', 'paymentsctl', ...args], {
      stdout: (text) => void (stdout += text),
      stderr: (text) => void (stderr += text),
    });
    return { stdout, stderr, exitCode };
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  }
}

export function parseJson<T = unknown>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`stdout is not JSON:\n${text}`);
  }
}
