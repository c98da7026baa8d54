import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaSecurity } from '../../src/config.js';
import { kafkaVersionFrom, startKafka, stopKafka, type ManagedKafka } from '../../src/stack/kafka.js';
import { defaultCacheDir } from '../../src/stack/paths.js';
import { runCli, runMain } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { uniquePrefix } from '../helpers/kafka.js';
import { parseValue, startPipeline, type PipelineKafka } from '../helpers/pipeline.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';

// Long enough to be scrubbed from every output (shorter values are not registered as secrets).
const SCRAM_PASSWORD = 'scram-app-secret-7f3a';
const PLAIN_PASSWORD = 'plain-app-secret-19c2';
const WRONG_PASSWORD = 'not-the-password-b81e';

let certs: TestCertificates;
let broker: ManagedKafka;
let workDir: string;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  certs = await makeTestCertificates();
  workDir = await mkdtemp(join(tmpdir(), 'paymentsctl-secure-kafka-'));
  broker = await startKafka({
    version: kafkaVersionFrom(process.env),
    workDir,
    cacheDir: defaultCacheDir(),
    timeoutMs: 120_000,
    secure: {
      keystoreFile: certs.serverKeystoreFile,
      truststoreFile: certs.caFile,
      plainUsers: { app: PLAIN_PASSWORD },
      scramUsers: [{ mechanism: 'SCRAM-SHA-512', name: 'app', password: SCRAM_PASSWORD }],
    },
  });
});

afterAll(async () => {
  await database?.drop();
  if (broker) await stopKafka(broker, { removeData: true });
  if (workDir) await rm(workDir, { recursive: true, force: true });
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

/** The settings an operator would export, and the same settings as this test's own clients read them. */
function kafkaWith(brokers: string, env: Record<string, string>): PipelineKafka {
  return { brokers, env, security: kafkaSecurity({}, env) };
}

const scram = () =>
  kafkaWith(broker.saslSslBrokers as string, {
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'app',
    KAFKA_SASL_PASSWORD: SCRAM_PASSWORD,
    KAFKA_SSL_CA_FILE: certs.caFile,
  });

/** publish-outbox and a worker, both over `kafka`: an order placed in the outbox comes back as payments.completed. */
async function orderGoesThrough(kafka: PipelineKafka): Promise<void> {
  const pipeline = await startPipeline({ kafka });
  try {
    await pipeline.startWorker();
    const orderId = `ord_${pipeline.prefix.replace(/\W/g, '')}`;
    await pipeline.placeOrders([{ order_id: orderId, amount: 1250, currency: 'eur', payment_method: 'pm_card_visa' }]);
    const completed = await pipeline.read('payments.completed', (messages) => messages.length >= 1);
    expect(completed.map((m) => [m.key, m.headers.ce_type, parseValue(m).order_id])).toEqual([[orderId, 'payments.completed', orderId]]);
    expect((await pipeline.charges()).totals.succeededCharges).toBe(1);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${pipeline.logs()}`, { cause: error });
  } finally {
    await pipeline.close();
  }
}

describe('publish → worker → consume against a broker that requires TLS and SASL', () => {
  it('over SASL_SSL with SCRAM-SHA-512', async () => {
    await orderGoesThrough(scram());
  });

  it('over SASL_SSL with PLAIN', async () => {
    await orderGoesThrough(
      kafkaWith(broker.saslSslBrokers as string, {
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_SASL_MECHANISM: 'PLAIN',
        KAFKA_SASL_USERNAME: 'app',
        KAFKA_SASL_PASSWORD: PLAIN_PASSWORD,
        KAFKA_SSL_CA_FILE: certs.caFile,
      }),
    );
  });

  it('over mutual TLS with a client certificate', async () => {
    await orderGoesThrough(
      kafkaWith(broker.mtlsBrokers as string, {
        KAFKA_SECURITY_PROTOCOL: 'SSL',
        KAFKA_SSL_CA_FILE: certs.caFile,
        KAFKA_SSL_CERT_FILE: certs.clientCertFile,
        KAFKA_SSL_KEY_FILE: certs.clientKeyFile,
      }),
    );
  });
});

describe('credentials and certificates the broker refuses', () => {
  const wrongPassword = () => ({ ...scram().env, KAFKA_BROKERS: broker.saslSslBrokers as string, KAFKA_SASL_PASSWORD: WRONG_PASSWORD });

  it.each([
    ['topics ensure', ['topics', 'ensure']],
    ['publish-outbox', ['publish-outbox', '--metrics-port', '0']],
    ['worker', ['worker', '--metrics-port', '0']],
  ])('%s with a wrong SASL password exits 3 naming the setting, and prints the password nowhere', async (_name, args) => {
    const env = {
      ...wrongPassword(),
      // a migrated database of its own: the roles check its schema before they reach Kafka
      DATABASE_URL: database.url,
      STRIPE_API_KEY: 'sk_test_wrongpassword',
    };
    const result = await runCli(['--log-level', 'debug', ...args], env);
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain('KAFKA_SASL_PASSWORD');
    expect(result.stderr).toContain('rejected the SCRAM-SHA-512 credentials');
    expect(result.stdout + result.stderr).not.toContain(WRONG_PASSWORD);
  });

  it('a CA that did not sign the broker fails the handshake and says which setting to check', async () => {
    const result = await runCli(['topics', 'ensure'], {
      ...scram().env,
      KAFKA_BROKERS: broker.saslSslBrokers as string,
      KAFKA_SSL_CA_FILE: certs.otherCaFile,
    });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain('KAFKA_SSL_CA_FILE');
    expect(result.stdout + result.stderr).not.toContain(SCRAM_PASSWORD);
  });

  it('mutual TLS without a client certificate is refused by the broker', async () => {
    const result = await runCli(['topics', 'ensure'], {
      KAFKA_BROKERS: broker.mtlsBrokers as string,
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CA_FILE: certs.caFile,
    });
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stderr).toContain('cannot reach Kafka');
  });
});

describe('SASL without TLS', () => {
  const saslOnly = {
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'app',
    KAFKA_SASL_PASSWORD: SCRAM_PASSWORD,
  };

  it('is refused when KAFKA_SECURITY_PROTOCOL is not set, before anything connects', async () => {
    const result = await runMain(['topics', 'ensure'], { ...saslOnly, KAFKA_BROKERS: broker.saslPlaintextBrokers as string });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('KAFKA_SECURITY_PROTOCOL is not');
    expect(result.stderr).toContain('SASL_PLAINTEXT');
    expect(result.stdout + result.stderr).not.toContain(SCRAM_PASSWORD);
  });

  it('is refused with KAFKA_SECURITY_PROTOCOL=PLAINTEXT', async () => {
    const result = await runMain(['topics', 'ensure'], {
      ...saslOnly,
      KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT',
      KAFKA_BROKERS: broker.saslPlaintextBrokers as string,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('uses no SASL');
  });

  it('works when SASL_PLAINTEXT is explicit', async () => {
    const prefix = uniquePrefix();
    const result = await runCli(['--json', 'topics', 'ensure', '--topic-prefix', prefix, '--partitions', '1', '--retry-levels', '0'], {
      ...saslOnly,
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_BROKERS: broker.saslPlaintextBrokers as string,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${prefix}orders.placed`);
  });
});

describe('OAUTHBEARER from a token file', () => {
  it('creates topics with the token the file holds', async () => {
    const tokenFile = join(workDir, 'token');
    // Kafka's built-in validator accepts unsecured JWTs (alg none): enough to prove the token travels.
    const now = Math.floor(Date.now() / 1000);
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    await writeFile(tokenFile, `${part({ alg: 'none' })}.${part({ sub: 'app', iat: now, exp: now + 3600 })}.`);
    const prefix = uniquePrefix();
    const result = await runCli(['--json', 'topics', 'ensure', '--topic-prefix', prefix, '--partitions', '1', '--retry-levels', '0'], {
      KAFKA_BROKERS: broker.saslSslBrokers as string,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
      KAFKA_OAUTH_TOKEN_FILE: tokenFile,
      KAFKA_SSL_CA_FILE: certs.caFile,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${prefix}orders.placed`);
  });
});
