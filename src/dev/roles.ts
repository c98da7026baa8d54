import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { lastLines } from '../stack/kafka-libs.js';
import { packageRoot } from '../stack/paths.js';
import { recordPid } from '../stack/process.js';
import { withoutStoreSecurity } from '../settings.js';
import type { RoleName, RoleSnapshot, RoleState } from './types.js';

export interface RoleSpec {
  name: RoleName;
  /** the paymentsctl subcommand and its flags */
  argv: string[];
  /** where it serves /readyz and /metrics */
  opsPort: number;
  env: Record<string, string>;
}

/** A role could not be brought up (it exited before it was ever ready, or never got ready): restarting would not help. */
export class RoleStartError extends Error {
  constructor(
    readonly role: RoleName,
    message: string,
  ) {
    super(message);
    this.name = 'RoleStartError';
  }
}

const READY_POLL_MS = 200;
const STOP_GRACE_MS = 30_000;
/** tries again for a role that exits "unavailable" before it was ever ready */
const START_RETRIES = 3;

/**
 * One role run as a child process of the same binary, the way a container runs it, with its output
 * in a log file. It is restarted when it dies — whether --chaos killed it or it crashed — until
 * `stop()`.
 */
export class SupervisedRole {
  private child?: ChildProcess;
  private state: RoleState = 'down';
  private readyOnce = false;
  private readySince = 0;
  private kills = 0;
  private unexpectedExits = 0;
  private restarts = 0;
  private startRetries = 0;
  private stopping = false;
  private killRequested = false;
  private exited?: Promise<void>;
  private fatal?: RoleStartError;
  readonly logFile: string;

  constructor(
    readonly spec: RoleSpec,
    private readonly runDir: string,
    private readonly log: Logger,
    private readonly notify: (line: string) => void,
  ) {
    this.logFile = join(runDir, `${spec.name}.log`);
  }

  get name(): RoleName {
    return this.spec.name;
  }

  /** How long it has been up and ready; 0 when it is not. */
  readyForMs(): number {
    return this.state === 'ready' ? Date.now() - this.readySince : 0;
  }

  snapshot(): RoleSnapshot {
    return {
      name: this.spec.name,
      state: this.state,
      ...(this.child?.pid !== undefined && this.state !== 'down' && this.state !== 'stopped' ? { pid: this.child.pid } : {}),
      kills: this.kills,
      unexpectedExits: this.unexpectedExits,
      restarts: this.restarts,
    };
  }

  /** Starts the process and resolves once it answers /readyz. */
  async start(): Promise<void> {
    this.launch();
    await this.waitUntilReady();
  }

  /** Resolves once it answers /readyz, or at once when it is being stopped or `signal` fires. */
  async waitUntilReady(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    while (this.state !== 'ready') {
      if (this.fatal) throw this.fatal;
      if (this.stopping || options.signal?.aborted) return;
      if (Date.now() > deadline) {
        throw new RoleStartError(
          this.spec.name,
          `${this.spec.name} was not ready after ${Math.round((options.timeoutMs ?? 120_000) / 1000)}s; its last log lines:\n${await this.logTail()}`,
        );
      }
      await sleep(READY_POLL_MS);
    }
  }

  /** SIGKILL, as a node failure or an OOM kill would; the supervisor restarts it after `downtimeMs`. */
  async kill(downtimeMs: number): Promise<void> {
    const child = this.child;
    if (!child || this.state === 'down' || this.stopping) return;
    this.killRequested = true;
    this.kills++;
    this.notify(`SIGKILL ${this.spec.name} (pid ${child.pid}); back in ${(downtimeMs / 1000).toFixed(1)}s`);
    child.kill('SIGKILL');
    await this.exited;
    await sleep(downtimeMs);
    if (this.stopping) return;
    this.relaunch();
  }

  /** SIGTERM: the role finishes its in-flight work and exits; SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(forced);
    }
    this.state = 'stopped';
  }

  /** Its /metrics text, with the pid of the process that served it; undefined while it is not ready. */
  async metrics(): Promise<{ text: string; pid: number | undefined } | undefined> {
    if (this.state !== 'ready') return undefined;
    const pid = this.child?.pid;
    try {
      const response = await fetch(`http://127.0.0.1:${this.spec.opsPort}/metrics`, { signal: AbortSignal.timeout(1_000) });
      const text = response.ok ? await response.text() : undefined;
      // A reading that raced a restart could belong to either process: skip it.
      return text !== undefined && pid === this.child?.pid ? { text, pid } : undefined;
    } catch {
      return undefined;
    }
  }

  async logTail(lines = 20): Promise<string> {
    return lastLines(await readFile(this.logFile, 'utf8').catch(() => ''), lines);
  }

  /** After a kill or a crash. Never throws: it runs where nobody awaits it, so a failure becomes fatal for waitUntilReady. */
  private relaunch(): void {
    this.restarts++;
    try {
      this.launch();
    } catch (error) {
      this.state = 'down';
      this.fatal = new RoleStartError(this.spec.name, `${this.spec.name} could not be started again: ${errorMessage(error)}`);
    }
  }

  private launch(): void {
    const out = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [join(packageRoot(), 'bin', 'paymentsctl.js'), ...this.spec.argv], {
        // The roles talk to dev's own plaintext stack: TLS/SASL settings exported for production stay out.
        env: { ...withoutStoreSecurity(process.env), ...this.spec.env },
        stdio: ['ignore', out, out],
        // Its own process group: a Ctrl-C at the terminal reaches `dev`, which stops the roles in order.
        detached: true,
      });
    } finally {
      closeSync(out);
    }
    this.child = child;
    this.state = 'starting';
    // So that a later run can stop a role this run left behind if it was itself killed.
    if (child.pid !== undefined) void recordPid(join(this.runDir, `${this.spec.name}.pid`), child.pid).catch(() => undefined);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.onExit(child, code, signal);
        resolve();
      }),
    );
    void this.pollReadiness(child);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.state = 'down';
    if (this.stopping) return;
    if (this.killRequested) {
      this.killRequested = false;
      return;
    }
    // Before it was ever ready, "unavailable" (3) can pass — a broker still creating its offsets
    // topic — so it gets a few more tries, as a Deployment would; that is starting, not crashing.
    if (!this.readyOnce && code === ExitCode.unavailable && this.startRetries < START_RETRIES) {
      this.startRetries++;
      this.notify(`${this.spec.name} could not start yet (a service was unavailable); trying again`);
      this.relaunchSoon();
      return;
    }
    this.unexpectedExits++;
    this.log.warn({ role: this.spec.name, code, signal, logFile: this.logFile }, 'role exited unexpectedly');
    if (!this.readyOnce) {
      // Any other exit before it was ever ready is a configuration it cannot work with: restarting
      // would only repeat it.
      void this.logTail().then((tail) => {
        this.fatal = new RoleStartError(
          this.spec.name,
          `${this.spec.name} exited with code ${code ?? signal} before it was ready; its last log lines:\n${tail}`,
        );
      });
      return;
    }
    this.notify(`${this.spec.name} exited unexpectedly (code ${code ?? signal}); restarting`);
    this.relaunchSoon();
  }

  private relaunchSoon(): void {
    void sleep(1_000).then(() => {
      if (!this.stopping) this.relaunch();
    });
  }

  private async pollReadiness(child: ChildProcess): Promise<void> {
    while (child === this.child && child.exitCode === null && child.signalCode === null && !this.stopping) {
      try {
        const response = await fetch(`http://127.0.0.1:${this.spec.opsPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
        if (response.ok && child === this.child && this.state === 'starting') {
          this.state = 'ready';
          this.readySince = Date.now();
          if (this.readyOnce) this.notify(`${this.spec.name} is back (pid ${child.pid})`);
          this.readyOnce = true;
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(READY_POLL_MS);
    }
  }
}
