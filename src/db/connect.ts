import pg from 'pg';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { redact } from '../redact.js';
import { isTlsError, pgConnection } from './tls.js';

export interface ConnectOptions {
  connectionTimeoutMs?: number;
  applicationName?: string;
  /** where a connection lost while idle is reported (it is discarded either way) */
  log?: Logger;
}

/** Opens one client, turning connection failures into UnavailableError with a redacted target. */
export async function connectClient(url: string, options: ConnectOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({
    ...pgConnection(url),
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'paymentsctl',
  });
  // An idle client whose server goes away emits 'error'; without a listener it would crash the process.
  // Its next query fails too, which its user handles; the client is not used again.
  client.on('error', (error) => lostConnection(options.log, error));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    const tls = isTlsError(error);
    // Said in the message, not only the hint: migrate shows each database's message alone.
    const what = tls ? 'TLS failed, check DATABASE_SSL_CA_FILE and sslmode in DATABASE_URL' : undefined;
    throw new UnavailableError(
      `cannot connect to PostgreSQL at ${describeTarget(url)}: ${redact((error as Error).message)}${what ? ` (${what})` : ''}`,
      {
        hint: tls
          ? 'DATABASE_SSL_CA_FILE (or sslrootcert in the URL) must be the CA that signed the server certificate; sslmode=verify-full also needs the host in the URL to be named in it'
          : 'check DATABASE_URL and that the server is running and accepts connections',
        cause: error,
      },
    );
  }
  return client;
}

export function createPool(
  url: string,
  options: ConnectOptions & {
    max?: number;
    /** server settings for every session, e.g. { synchronous_commit: 'off' } */
    settings?: Record<string, string>;
    /** send a query without waiting for the previous one's answer (fewer round trips per transaction) */
    pipeline?: boolean;
  } = {},
): pg.Pool {
  const settings = Object.entries(options.settings ?? {}).map(([name, value]) => `-c ${name}=${value}`);
  const pool = new pg.Pool({
    ...pgConnection(url),
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'paymentsctl',
    max: options.max ?? 10,
    ...(settings.length ? { options: settings.join(' ') } : {}),
    ...(options.pipeline ? { pipeline: true } : {}),
  });
  // A connection whose server goes away emits 'error'. An idle one the pool reports here and
  // discards; a checked-out one between two queries (inside a transaction, or waiting for Stripe)
  // has no pool listener, so every client gets its own: without one the process would crash. Its
  // next query fails, its user rolls back and releases it broken, and the pool discards it.
  pool.on('error', (error) => lostConnection(options.log, error));
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

function lostConnection(log: Logger | undefined, error: Error): void {
  log?.warn({ err: redact(error.message) }, 'a PostgreSQL connection was lost; it is discarded and a new one opened when needed');
}

/** host:port/database, never the password. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}/${databaseName(url)}`;
  } catch {
    return '(unparseable URL)';
  }
}

export function databaseName(url: string): string {
  try {
    const parsed = new URL(url);
    const fromPath = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    return fromPath || decodeURIComponent(parsed.username) || 'postgres';
  } catch {
    return '(unparseable URL)';
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Runs `work` — which opens and commits its own transaction — on a pooled client. On failure the
 * transaction is rolled back; a client that cannot even roll back is discarded, not reused.
 */
export async function withTransactionClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    return await work(client);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
