import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../log.js';
import { PUBLISHER_LOCK_NAMESPACE } from '../db/locks.js';
import { pgConnection } from '../db/tls.js';
import { errorMessage } from '../errors.js';

export const OUTBOX_CHANNEL = 'paymentsctl_outbox';

export interface Leadership {
  topic: string;
  /** drawn from outbox_leader_term when this leadership began; strictly increasing across leaders */
  term: string;
  /** aborted the moment this process stops being the leader (connection lost, shutdown) */
  signal: AbortSignal;
}

export interface TopicLeadershipOptions {
  databaseUrl: string;
  log: Logger;
  /** how often a standby tries to take a topic over, and how often the lock connection is checked */
  checkIntervalMs?: number;
  /** a check that has not answered in this long counts as a lost connection */
  checkTimeoutMs?: number;
}

interface Held {
  term: string;
  controller: AbortController;
}

/** A leader starts a send only within this long of its last confirmed check (see below). */
export const LEASE_MS = 2_000;

/**
 * Holds, on one dedicated connection, a session-level advisory lock per topic this replica
 * publishes, and LISTENs for the outbox trigger's NOTIFY on the same connection.
 *
 * Why two leaders never publish at once:
 * - A lock dies with its session. A leader process that dies, or whose connection is closed or
 *   terminated, loses the lock at once, and learns it at once (the connection errors): it aborts
 *   before its next send. A standby's next try (every 500 ms) takes over.
 * - A leader cut off silently (network partition) cannot learn it from an error. It checks its
 *   connection every 500 ms and starts a send only within LEASE_MS of the last check that
 *   answered; a check unanswered for 5 s ends its leadership. The server, meanwhile, keeps the
 *   lock until it gives the client up: 60 s (TCP keepalive, or tcp_user_timeout while it still
 *   has NOTIFYs to deliver). A send in
 *   flight ends within the producer's bound (4 attempts × 10 s request timeout), so the old
 *   leader is silent well before any standby can win the lock.
 */
export class TopicLeadership extends EventEmitter<{
  acquired: [Leadership];
  lost: [{ topic: string; term: string; reason: string }];
  notify: [string];
  connected: [];
}> {
  private client: pg.Client | undefined;
  private wanted: string[] = [];
  private readonly held = new Map<string, Held>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  connected = false;
  private confirmedAt = 0;

  constructor(private readonly options: TopicLeadershipOptions) {
    super();
  }

  setTopics(topics: readonly string[]): void {
    this.wanted = [...new Set(topics)].sort();
    this.wake?.();
  }

  current(topic: string): Leadership | undefined {
    const held = this.held.get(topic);
    return held ? { topic, term: held.term, signal: held.controller.signal } : undefined;
  }

  /** Whether the lock connection answered a check within `maxAgeMs`: the leader's lease. */
  confirmedWithin(maxAgeMs: number): boolean {
    return this.connected && Date.now() - this.confirmedAt <= maxAgeMs;
  }

  leading(): string[] {
    return [...this.held.keys()];
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    let backoffMs = 200;
    while (!this.stopped) {
      try {
        await this.connect();
        while (!this.stopped && this.client) {
          await this.check();
          backoffMs = 200; // only a connection that answers counts as recovered
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            setTimeout(resolve, this.options.checkIntervalMs ?? 500).unref();
          });
        }
      } catch (error) {
        if (this.stopped) break;
        this.dropConnection(`database connection failed: ${errorMessage(error)}`);
        this.options.log.warn({ err: errorMessage(error), retryInMs: backoffMs }, 'outbox lock connection failed; retrying');
      }
      if (this.stopped) break;
      // After any loss, by error or by event: a server that accepts and then drops connections
      // must not be hammered.
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 5_000);
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      ...pgConnection(this.options.databaseUrl),
      application_name: 'paymentsctl publish-outbox (leadership)',
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
    });
    // Events of a connection already replaced must not drop its successor.
    client.on('error', (error) => {
      if (client !== this.client) return;
      this.options.log.warn({ err: errorMessage(error) }, 'outbox lock connection lost; reconnecting');
      this.dropConnection(`database connection lost: ${errorMessage(error)}`);
    });
    client.on('end', () => {
      if (client === this.client) this.dropConnection('database connection closed');
    });
    client.on('notification', (message) => {
      if (message.channel === OUTBOX_CHANNEL && message.payload) this.emit('notify', message.payload);
    });
    this.client = client;
    await client.connect();
    // The server gives up a vanished leader after 60 s and frees its locks for a standby: by TCP
    // keepalive when the link is idle, by tcp_user_timeout when NOTIFYs are still being sent to it.
    await client.query(
      'SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 60000',
    );
    await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    this.connected = true;
    this.emit('connected');
  }

  /**
   * Verifies the connection answers and tries to take every wanted topic this replica does not
   * lead; a won lock draws its term in the same statement, under the same timeout.
   */
  private async check(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const missing = this.wanted.filter((topic) => !this.held.has(topic));
    const timeoutMs = this.options.checkTimeoutMs ?? 5_000;
    const sentAt = Date.now();
    const query = client.query<{ topic: string; term: string | null }>(
      `WITH tries AS (SELECT t, pg_try_advisory_lock($1, hashtext(t)) AS locked FROM unnest($2::text[]) AS t)
       SELECT t AS topic, CASE WHEN locked THEN nextval('outbox_leader_term')::text END AS term FROM tries`,
      [PUBLISHER_LOCK_NAMESPACE, missing],
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lock connection did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    let rows: { topic: string; term: string | null }[];
    try {
      rows = (await Promise.race([query, timeout])).rows;
    } finally {
      clearTimeout(timer);
    }
    if (client !== this.client || this.stopped) return;
    // The lease runs from when the check was sent: the server answered at some point after it.
    this.confirmedAt = sentAt;
    for (const { topic, term } of rows) {
      if (term === null) continue;
      const held: Held = { term, controller: new AbortController() };
      this.held.set(topic, held);
      this.options.log.info({ topic, term }, 'became the active outbox publisher');
      this.emit('acquired', { topic, term, signal: held.controller.signal });
    }
  }

  /** Every lock lives on this connection: losing it means losing every leadership at once. */
  private dropConnection(reason: string): void {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    this.connected = false;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    this.loseAll(reason);
    this.wake?.();
  }

  private loseAll(reason: string): void {
    for (const [topic, held] of this.held) {
      held.controller.abort(new Error(reason));
      this.options.log.warn({ topic, term: held.term, reason }, 'no longer the active outbox publisher');
      this.emit('lost', { topic, term: held.term, reason });
    }
    this.held.clear();
  }

  /** Releases every lock (so a standby takes over at once) and closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const client = this.client;
    this.client = undefined;
    this.loseAll('shutting down');
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      // Bounded: a hung connection must not hold up shutdown; closing it frees the locks too.
      await Promise.race([client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined), sleep(2_000)]);
      await Promise.race([client.end().catch(() => undefined), sleep(2_000)]);
    }
    this.connected = false;
    await this.loop?.catch(() => undefined);
  }
}
