// CPU seconds a process and everything it started have used, read from /proc: the figure that
// holds on a shared machine, where wall-clock throughput depends on what else runs.
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      // utime, stime, cutime (waited-for children), cstime
      ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/**
 * CPU seconds of `rootPid` and its live descendants, plus the children they already reaped
 * (PostgreSQL's postmaster reaps each backend, so a closed connection's time stays counted).
 */
export function treeCpuSeconds(rootPid) {
  const stats = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.set(Number(name), stat);
  }
  const children = new Map();
  for (const [pid, { ppid }] of stats) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  let ticks = 0;
  const pending = [rootPid];
  while (pending.length) {
    const pid = pending.pop();
    const stat = stats.get(pid);
    if (!stat) continue;
    ticks += stat.ticks;
    pending.push(...(children.get(pid) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}

/** This process's own CPU seconds (user + system), from Node itself. */
export function ownCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Measures CPU seconds over a stretch of work for named processes: `meter.start()`, the work,
 * then `meter.stop()` gives seconds per name. `pids` maps a name to a pid or to a function giving
 * it (for a process started later). The bench process itself is measured as `bench`.
 */
export function cpuMeter(pids) {
  const resolve = () => Object.entries(pids).map(([name, pid]) => [name, typeof pid === 'function' ? pid() : pid]);
  let before;
  return {
    start() {
      before = Object.fromEntries(resolve().map(([name, pid]) => [name, pid ? treeCpuSeconds(pid) : 0]));
      before.bench = ownCpuSeconds();
    },
    stop() {
      const after = Object.fromEntries(resolve().map(([name, pid]) => [name, pid ? treeCpuSeconds(pid) : 0]));
      after.bench = ownCpuSeconds();
      return Object.fromEntries(Object.keys(after).map((name) => [name, Number((after[name] - before[name]).toFixed(2))]));
    },
  };
}

/** CPU seconds per 100,000 events, per process. */
export function per100k(seconds, events) {
  return Object.fromEntries(Object.entries(seconds).map(([name, s]) => [name, Number(((s * 100_000) / events).toFixed(2))]));
}
