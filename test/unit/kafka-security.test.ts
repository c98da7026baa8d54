import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaSecurity, validateDatabaseUrl, withDatabaseCa } from '../../src/config.js';
import { ConfigError, UnavailableError } from '../../src/errors.js';
import { jwtExpiry, oauthTokenProvider, TOKEN_REFRESH_MARGIN_MS } from '../../src/kafka/oauth-token.js';
import { kafkajsSecurity } from '../../src/kafka/security.js';
import { pgConnection } from '../../src/db/tls.js';

const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
let dir: string;
let ca: string;
let cert: string;
let key: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paymentsctl-security-unit-'));
  ca = join(dir, 'ca.pem');
  cert = join(dir, 'client.pem');
  key = join(dir, 'client.key');
  await writeFile(ca, PEM_CERT);
  await writeFile(cert, PEM_CERT);
  await writeFile(key, PEM_KEY);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const scram = { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'app-secret-1234' };

describe('KAFKA_SECURITY_PROTOCOL and the settings that go with it', () => {
  it('is PLAINTEXT when nothing is set', () => {
    expect(kafkaSecurity({}, {})).toEqual({ protocol: 'PLAINTEXT' });
    expect(kafkajsSecurity(kafkaSecurity({}, {}))).toEqual({});
  });

  it('refuses SASL settings without a protocol: kafkajs would send the password over plain TCP', () => {
    const error = configError(() => kafkaSecurity({}, scram));
    expect(error.setting).toBe('KAFKA_SECURITY_PROTOCOL');
    expect(error.message).toContain('KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD set');
    expect(error.hint).toContain('SASL_PLAINTEXT');
    expect(`${error.message} ${error.hint}`).not.toContain('app-secret-1234');
  });

  it.each(['PLAINTEXT', 'SSL'])('refuses SASL settings with %s', (protocol) => {
    expect(configError(() => kafkaSecurity({}, { ...scram, KAFKA_SECURITY_PROTOCOL: protocol })).message).toContain('uses no SASL');
  });

  it('takes SASL without TLS only when SASL_PLAINTEXT is explicit', () => {
    const security = kafkaSecurity({}, { ...scram, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT' });
    const config = kafkajsSecurity(security);
    expect(config.ssl).toBeUndefined();
    expect(config.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'app', password: 'app-secret-1234' });
  });

  it('SASL_SSL: TLS verified against the CA file, SASL credentials', () => {
    const config = kafkajsSecurity(kafkaSecurity({}, { ...scram, KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SSL_CA_FILE: ca }));
    expect(config.ssl).toEqual({ rejectUnauthorized: true, ca: [PEM_CERT] });
    expect(config.sasl).toMatchObject({ mechanism: 'scram-sha-512' });
  });

  it('SSL with a client certificate and key is mutual TLS; one without the other is refused', () => {
    const env = { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: cert, KAFKA_SSL_KEY_FILE: key };
    expect(kafkajsSecurity(kafkaSecurity({}, env)).ssl).toEqual({ rejectUnauthorized: true, cert: PEM_CERT, key: PEM_KEY });
    expect(configError(() => kafkaSecurity({}, { ...env, KAFKA_SSL_KEY_FILE: '' })).setting).toBe('KAFKA_SSL_KEY_FILE');
  });

  it('refuses TLS settings with a protocol without TLS, and TLS files without a protocol', () => {
    expect(configError(() => kafkaSecurity({}, { KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT', KAFKA_SSL_CA_FILE: ca })).message).toContain(
      'uses no TLS',
    );
    expect(configError(() => kafkaSecurity({}, { KAFKA_SSL_CA_FILE: ca })).hint).toContain('SSL or SASL_SSL');
  });

  it('names the setting whose file is missing or not PEM', () => {
    const missing = configError(() => kafkaSecurity({}, { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: join(dir, 'nope.pem') }));
    expect(missing.setting).toBe('KAFKA_SSL_CA_FILE');
    expect(missing.message).toContain('ENOENT');
    const notPem = configError(() => kafkaSecurity({}, { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: key }));
    expect(notPem.message).toContain('holds no PEM certificate');
  });

  it('KAFKA_SSL_REJECT_UNAUTHORIZED defaults to true and takes only true or false', () => {
    const off = kafkaSecurity({}, { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' });
    expect(off.tls?.rejectUnauthorized).toBe(false);
    expect(configError(() => kafkaSecurity({}, { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_REJECT_UNAUTHORIZED: 'maybe' })).setting).toBe(
      'KAFKA_SSL_REJECT_UNAUTHORIZED',
    );
  });

  it('names what a mechanism lacks, and refuses unknown protocols and mechanisms', () => {
    const base = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' };
    expect(configError(() => kafkaSecurity({}, base)).setting).toBe('KAFKA_SASL_MECHANISM');
    expect(configError(() => kafkaSecurity({}, { ...base, KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'app' })).setting).toBe(
      'KAFKA_SASL_PASSWORD',
    );
    expect(configError(() => kafkaSecurity({}, { ...base, KAFKA_SASL_MECHANISM: 'OAUTHBEARER' })).setting).toBe('KAFKA_OAUTH_TOKEN_FILE');
    expect(configError(() => kafkaSecurity({}, { ...base, KAFKA_SASL_MECHANISM: 'GSSAPI' })).message).toContain('is not one of PLAIN');
    expect(configError(() => kafkaSecurity({}, { KAFKA_SECURITY_PROTOCOL: 'TLS' })).message).toContain('is not one of PLAINTEXT');
  });

  it('flags win over the environment', () => {
    const security = kafkaSecurity(
      { kafkaSecurityProtocol: 'SASL_SSL', kafkaSaslMechanism: 'PLAIN' },
      { ...scram, KAFKA_SECURITY_PROTOCOL: 'SSL' },
    );
    expect(security).toMatchObject({ protocol: 'SASL_SSL', sasl: { mechanism: 'PLAIN', username: 'app' } });
  });

  it('OAUTHBEARER: token file and Confluent Cloud extensions; no user name or password', () => {
    const env = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'OAUTHBEARER', KAFKA_OAUTH_TOKEN_FILE: join(dir, 'token') };
    expect(kafkaSecurity({}, { ...env, KAFKA_OAUTH_EXTENSIONS: 'logicalCluster=lkc-1,identityPoolId=pool-2' }).sasl).toEqual({
      mechanism: 'OAUTHBEARER',
      tokenFile: join(dir, 'token'),
      extensions: { logicalCluster: 'lkc-1', identityPoolId: 'pool-2' },
    });
    expect(configError(() => kafkaSecurity({}, { ...env, KAFKA_OAUTH_EXTENSIONS: 'auth=x' })).setting).toBe('KAFKA_OAUTH_EXTENSIONS');
    expect(configError(() => kafkaSecurity({}, { ...env, KAFKA_SASL_USERNAME: 'app' })).message).toContain('do not apply to OAUTHBEARER');
  });
});

describe('the OAUTHBEARER token file', () => {
  const jwt = (exp: number) =>
    `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'app', exp })).toString('base64url')}.`;

  it('reads exp from a JWT, nothing from an opaque token', () => {
    expect(jwtExpiry(jwt(1_800_000_000))).toBe(1_800_000_000_000);
    expect(jwtExpiry('opaque-token')).toBeUndefined();
  });

  it('reuses a token until a minute before it expires, then reads the file again', async () => {
    const file = join(dir, 'token-refresh');
    let now = 1_000_000_000_000;
    const expiry = now + 10 * 60_000;
    await writeFile(file, jwt(expiry / 1000));
    const provider = oauthTokenProvider(file, { logicalCluster: 'lkc-1' }, () => now);
    expect(await provider()).toEqual({ value: jwt(expiry / 1000), extensions: { logicalCluster: 'lkc-1' } });

    // The sidecar writes the next token; the mtime is kept so only the clock can make us read it.
    const mtime = new Date();
    await utimes(file, mtime, mtime);
    const provider2 = oauthTokenProvider(file, undefined, () => now);
    await provider2();
    await writeFile(file, jwt(expiry / 1000 + 3600));
    await utimes(file, mtime, mtime);
    expect((await provider2()).value).toBe(jwt(expiry / 1000));
    now = expiry - TOKEN_REFRESH_MARGIN_MS + 1;
    expect((await provider2()).value).toBe(jwt(expiry / 1000 + 3600));
  });

  it('reads the file again when it changes', async () => {
    const file = join(dir, 'token-change');
    await writeFile(file, 'first-token');
    const provider = oauthTokenProvider(file);
    expect((await provider()).value).toBe('first-token');
    await writeFile(file, 'second-token');
    const later = new Date(Date.now() + 5_000);
    await utimes(file, later, later);
    expect((await provider()).value).toBe('second-token');
  });

  it('an expired token or a missing file is an error naming KAFKA_OAUTH_TOKEN_FILE', async () => {
    const file = join(dir, 'token-expired');
    await writeFile(file, jwt(1_000));
    await expect(oauthTokenProvider(file)()).rejects.toThrow(/KAFKA_OAUTH_TOKEN_FILE .* expired/);
    await expect(oauthTokenProvider(join(dir, 'absent'))()).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe('sslmode in DATABASE_URL', () => {
  const url = 'postgres://app:pw@db.internal:5432/payments';

  it('takes the ssl parameters out of the URL and follows libpq', () => {
    expect(pgConnection(url)).toEqual({ connectionString: url });
    expect(pgConnection(`${url}?sslmode=disable`)).toEqual({ connectionString: url, ssl: false });
    expect(pgConnection(`${url}?sslmode=require`)).toEqual({ connectionString: url, ssl: { rejectUnauthorized: false } });
    const full = pgConnection(`${url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}&application_name=x`);
    expect(full).toEqual({ connectionString: `${url}?application_name=x`, ssl: { ca: PEM_CERT, rejectUnauthorized: true } });
    const verifyCa = pgConnection(`${url}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(ca)}`);
    expect(verifyCa.ssl).toMatchObject({ ca: PEM_CERT, rejectUnauthorized: true });
    // verify-ca checks the signature, not the host name.
    expect((verifyCa.ssl as { checkServerIdentity: () => unknown }).checkServerIdentity()).toBeUndefined();
  });

  it('DATABASE_SSL_CA_FILE becomes the sslrootcert of the URL, and needs an sslmode', () => {
    const withCa = withDatabaseCa(`${url}?sslmode=verify-full`, {}, { DATABASE_SSL_CA_FILE: ca });
    expect(new URL(withCa).searchParams.get('sslrootcert')).toBe(ca);
    expect(configError(() => withDatabaseCa(url, {}, { DATABASE_SSL_CA_FILE: ca })).hint).toContain('sslmode=verify-full');
  });

  it('refuses modes this client cannot honour and verify-ca without a CA', () => {
    expect(configError(() => validateDatabaseUrl(`${url}?sslmode=prefer`)).message).toContain('cannot fall back');
    expect(configError(() => validateDatabaseUrl(`${url}?sslmode=verify-ca`)).message).toContain('needs the CA');
    expect(configError(() => validateDatabaseUrl(`${url}?sslmode=verify-ca`)).message).not.toContain(':pw@');
    expect(validateDatabaseUrl(`${url}?sslmode=verify-full`)).toBe(`${url}?sslmode=verify-full`);
  });
});
