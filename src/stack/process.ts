import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A zombie has exited; it lingers only until its parent (PID 1 in a container without init) reaps it. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export function isProcessAlive(pid: number): boolean {
  // kill(0) and kill(-n) address process groups, not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs: number): Promise<'terminated' | 'killed' | 'not-running'> {
  if (!isProcessAlive(pid)) return 'not-running';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return 'terminated';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'terminated';
  }
  // SIGKILL cannot be ignored; the bound only guards against a process stuck in the kernel.
  const killDeadline = Date.now() + 10_000;
  while (isProcessAlive(pid) && Date.now() < killDeadline) await sleep(50);
  return 'killed';
}

/**
 * A detached process's pid, recorded the moment it is launched — before it is known to be ready —
 * so that if its launcher is interrupted, the next `stack up` or `stack down` can still find it.
 */
export async function recordPid(pidFile: string, pid: number): Promise<void> {
  // Written whole or not at all (rename), so a reader never sees an empty file.
  await writeFile(`${pidFile}.tmp`, `${pid}\n`);
  await rename(`${pidFile}.tmp`, pidFile);
}

/**
 * Stops the process a pid file names if it is still alive and its command line contains every
 * marker (so a reused pid is left alone). Returns its pid when it stopped one.
 */
export async function stopRecordedProcess(pidFile: string, markers: string[], graceMs: number): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!pid || !isProcessAlive(pid)) {
    await rm(pidFile, { force: true });
    return undefined;
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!markers.every((marker) => cmdline.includes(marker))) return undefined;
  await stopProcess(pid, graceMs);
  await rm(pidFile, { force: true });
  return pid;
}
