import { readFileSync } from 'node:fs';
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
