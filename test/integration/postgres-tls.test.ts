import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl } from '../../src/config.js';
import { connectClient, createPool } from '../../src/db/connect.js';
import { UnavailableError } from '../../src/errors.js';
import { startPostgres, stopPostgres, type ManagedPostgres } from '../../src/stack/postgres.js';
import { runCli } from '../helpers/cli.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';

let certs: TestCertificates;
let cluster: ManagedPostgres;

beforeAll(async () => {
  certs = await makeTestCertificates();
  cluster = await startPostgres({ tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile } });
});

afterAll(async () => {
  if (cluster) await stopPostgres(cluster);
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

/** DATABASE_URL with `sslmode`, and the CA setting beside it, resolved as every command resolves them. */
const settingsFor = (sslmode: string, caFile?: string) => ({
  DATABASE_URL: `${cluster.adminUrl}?sslmode=${sslmode}`,
  ...(caFile ? { DATABASE_SSL_CA_FILE: caFile } : {}),
});

/** Whether this session of the server is encrypted, as the server sees it. */
async function sessionUsesTls(url: string): Promise<boolean> {
  const client = await connectClient(url);
  try {
    const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return rows[0]?.ssl ?? false;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL over TLS (a throwaway cluster with ssl=on and a test CA)', () => {
  it('sslmode=verify-full with the CA of DATABASE_SSL_CA_FILE connects encrypted, for clients and pools alike', async () => {
    const url = databaseUrl({}, settingsFor('verify-full', certs.caFile));
    expect(await sessionUsesTls(url)).toBe(true);
    const pool = createPool(url, { max: 1 });
    try {
      const { rows } = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(rows[0]?.ssl).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('paymentsctl migrate runs over verify-full', async () => {
    const result = await runCli(['migrate'], settingsFor('verify-full', certs.caFile));
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('postgres');
  });

  it('a CA that did not sign the server fails clearly, naming the setting', async () => {
    const url = databaseUrl({}, settingsFor('verify-full', certs.otherCaFile));
    const failure = await connectClient(url).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as Error).message).toMatch(/certificate/);
    expect((failure as Error).message).toContain('DATABASE_SSL_CA_FILE');

    // The only database cannot be connected to: migrate reports it unreachable (exit 3).
    const result = await runCli(['migrate'], settingsFor('verify-full', certs.otherCaFile));
    expect(result.exitCode).toBe(3);
    expect(result.stdout + result.stderr).toContain('TLS failed, check DATABASE_SSL_CA_FILE');
  });

  it('verify-full without a CA trusts only the system CAs, which never signed the test certificate', async () => {
    await expect(connectClient(databaseUrl({}, settingsFor('verify-full')))).rejects.toThrow(/certificate/);
  });

  it('verify-ca checks the signature with the CA', async () => {
    expect(await sessionUsesTls(databaseUrl({}, settingsFor('verify-ca', certs.caFile)))).toBe(true);
    await expect(connectClient(databaseUrl({}, settingsFor('verify-ca', certs.otherCaFile)))).rejects.toThrow(/certificate/);
  });

  it('require encrypts without checking the certificate, as in libpq', async () => {
    expect(await sessionUsesTls(databaseUrl({}, settingsFor('require')))).toBe(true);
  });

  it('without sslmode the session is not encrypted (as before)', async () => {
    expect(await sessionUsesTls(cluster.adminUrl)).toBe(false);
  });

  it('sslmode=prefer is refused: this client cannot fall back, so it would not mean what it says', async () => {
    const result = await runCli(['migrate'], settingsFor('prefer'));
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('sslmode=prefer is not supported');
  });
});
