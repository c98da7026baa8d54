import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { packageRoot } from './paths.js';
import { freePort } from './ports.js';
import { isProcessAlive, recordPid, stopProcess, stopRecordedProcess } from './process.js';

/** Any sk_test_ key works against the emulator; this is the one the stack hands out. */
export const EMULATOR_API_KEY = 'sk_test_paymentsctl_emulator';

export interface ManagedStripeEmulator {
  pid: number;
  port: number;
  apiBase: string;
  /** the secret the emulator signs webhooks with */
  webhookSecret: string;
  logFile: string;
}

const pidFile = (workDir: string) => join(workDir, 'stripe-emulator.pid');

/** Probes the admin health endpoint: API faults never touch it, and it draws no seeded fault. */
export async function isStripeReachable(apiBase: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const response = await fetch(`${apiBase}/_emulator/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Runs `paymentsctl stripe-emulator` detached, so it outlives the `stack up` that started it. */
export async function startStripeEmulatorProcess(options: {
  workDir: string;
  log?: Logger;
  timeoutMs?: number;
  /** to start it again where its clients expect it; default: a free port and a new secret */
  port?: number;
  webhookSecret?: string;
}): Promise<ManagedStripeEmulator> {
  await mkdir(options.workDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  const logFile = join(options.workDir, 'stripe-emulator.log');
  const out = openSync(logFile, 'a');
  let pid: number | undefined;
  try {
    const child = spawn(
      process.execPath,
      [
        join(packageRoot(), 'bin', 'paymentsctl.js'),
        'stripe-emulator',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--webhook-secret',
        webhookSecret,
      ],
      { detached: true, stdio: ['ignore', out, out], env: { ...process.env, LOG_LEVEL: 'info' } },
    );
    child.unref();
    pid = child.pid;
    if (pid !== undefined) await recordPid(pidFile(options.workDir), pid);
  } finally {
    closeSync(out);
  }
  if (pid === undefined) throw new UnavailableError('could not launch the Stripe emulator');
  const apiBase = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (!(await isStripeReachable(apiBase))) {
    if (!isProcessAlive(pid) || Date.now() > deadline) {
      await stopProcess(pid, 2_000);
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-15).join('\n');
      throw new UnavailableError(`the Stripe emulator did not start; last log lines:\n${tail}`, {
        hint: 'set STRIPE_API_BASE and STRIPE_API_KEY to use another Stripe endpoint',
      });
    }
    await sleep(100);
  }
  options.log?.info({ pid, apiBase }, 'Stripe emulator ready');
  return { pid, port, apiBase, webhookSecret, logFile };
}

export async function stopStripeEmulator(emulator: Pick<ManagedStripeEmulator, 'pid'>, workDir: string): Promise<void> {
  await stopProcess(emulator.pid, 5_000);
  await rm(pidFile(workDir), { force: true });
}

/** Stops an emulator an interrupted `stack up` launched but never recorded (see stopUnrecordedKafka). */
export async function stopUnrecordedStripeEmulator(workDir: string): Promise<number | undefined> {
  return stopRecordedProcess(pidFile(workDir), ['stripe-emulator'], 5_000);
}
