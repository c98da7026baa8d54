import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';

/** What node-postgres needs to connect as libpq would with the URL's sslmode. */
export interface PgConnection {
  connectionString: string;
  /** absent: node-postgres' own reading of the URL (no sslmode: plain TCP) */
  ssl?: false | ConnectionOptions;
}

const SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;

/**
 * libpq's sslmode semantics, which node-postgres does not follow (it treats require and verify-ca as
 * verify-full, and lets the URL override an explicit `ssl`): the ssl* parameters are taken out of the
 * URL and turned into TLS options here.
 *   require      encrypted; the certificate is checked only when a CA is given (then as verify-ca)
 *   verify-ca    encrypted, the server's certificate signed by the CA (sslrootcert); any host name
 *   verify-full  encrypted, signed by the CA (or a system-trusted one), issued for the host connected to
 */
export function pgConnection(url: string): PgConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url };
  }
  const params = Object.fromEntries(SSL_PARAMS.map((name) => [name, parsed.searchParams.get(name) ?? undefined]));
  const mode = params.sslmode;
  if (mode === undefined) return { connectionString: url };
  for (const name of SSL_PARAMS) parsed.searchParams.delete(name);
  const connectionString = parsed.toString();
  if (mode === 'disable') return { connectionString, ssl: false };
  const read = (param: 'sslrootcert' | 'sslcert' | 'sslkey') => {
    const file = params[param];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError('DATABASE_URL', `cannot read ${param}=${file} of DATABASE_URL: ${(error as Error).message}`, {
        hint: param === 'sslrootcert' ? 'check DATABASE_SSL_CA_FILE or the sslrootcert in DATABASE_URL' : `check ${param} in DATABASE_URL`,
      });
    }
  };
  const ca = read('sslrootcert');
  const client = { ...(params.sslcert ? { cert: read('sslcert') } : {}), ...(params.sslkey ? { key: read('sslkey') } : {}) };
  switch (mode) {
    case 'require':
      return ca
        ? { connectionString, ssl: { ...client, ca, rejectUnauthorized: true, checkServerIdentity: () => undefined } }
        : { connectionString, ssl: { ...client, rejectUnauthorized: false } };
    case 'verify-ca':
      if (!ca)
        throw new ConfigError('DATABASE_URL', 'sslmode=verify-ca needs the CA', {
          hint: 'set DATABASE_SSL_CA_FILE or add sslrootcert=FILE to DATABASE_URL',
        });
      return { connectionString, ssl: { ...client, ca, rejectUnauthorized: true, checkServerIdentity: () => undefined } };
    case 'verify-full':
      return { connectionString, ssl: { ...client, ...(ca ? { ca } : {}), rejectUnauthorized: true } };
    default:
      throw new ConfigError('DATABASE_URL', `sslmode=${mode} is not supported`, {
        hint: 'use sslmode=require, verify-ca or verify-full (or disable) in DATABASE_URL',
      });
  }
}

/** A TLS failure while connecting means the certificate settings, not the network. */
export function isTlsError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|altnames|certificate|does not support SSL/i.test(
    `${String(code ?? '')} ${String(message ?? '')}`,
  );
}
