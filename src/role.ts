/**
 * What /readyz reports: whether the role can do its work, and optionally what each of its
 * dependencies answered (shown in the body, e.g. `{"database":"ok","kafka":"ok"}`).
 */
export type ReadyState = boolean | { ready: boolean; [dependency: string]: string | boolean };

/**
 * A long-running role (publish-outbox, worker, webhook-serve) as the CLI runs it: started once,
 * probed by /readyz while it runs, stopped gracefully on SIGTERM.
 */
export interface Role {
  /** resolves once the role runs (it may not be ready yet: readiness says when) */
  start(): void | Promise<void>;
  /** finishes the work in flight and releases connections */
  stop(): Promise<void>;
  isReady(): ReadyState | Promise<ReadyState>;
  /** called if the role stops for good on its own; the process then exits "unavailable" */
  onFailure?(listener: (error: Error) => void): void;
  /**
   * Asks each dependency (database, kafka) once: 'ok' or what failed; never throws. The lifecycle
   * asks every few seconds and, past the outage limit, stops the role and exits "unavailable".
   */
  dependencies?(): Promise<Record<string, string>>;
}
