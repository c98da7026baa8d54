import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** Certificates made at test time with openssl: a CA, a server certificate for 127.0.0.1/localhost, a client's. */
export interface TestCertificates {
  dir: string;
  caFile: string;
  serverCertFile: string;
  /** PKCS#8, unencrypted */
  serverKeyFile: string;
  /** the server's key followed by its certificate: a PEM keystore for Kafka */
  serverKeystoreFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** a CA that signed none of these: trusting it must fail */
  otherCaFile: string;
}

const openssl = (dir: string, args: string[]) => execa('openssl', args, { cwd: dir, stdin: 'ignore' });

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);
  await openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=paymentsctl ${name}`,
    '-out',
    `${name}.pem`,
  ]);
}

async function makeSigned(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  ]);
}

export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'paymentsctl-tls-'));
  await makeCa(dir, 'ca');
  await makeCa(dir, 'other-ca');
  await makeSigned(
    dir,
    'server',
    '/CN=localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await makeSigned(dir, 'client', '/CN=app', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  const serverKeystoreFile = join(dir, 'server-keystore.pem');
  await writeFile(
    serverKeystoreFile,
    (await readFile(join(dir, 'server.key'), 'utf8')) + (await readFile(join(dir, 'server.pem'), 'utf8')),
  );
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    serverKeystoreFile,
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    otherCaFile: join(dir, 'other-ca.pem'),
  };
}
