import { access, chmod, chown, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { execa } from 'execa';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { connectClient } from '../db/connect.js';
import { freePort, portFreeWithin } from './ports.js';
import { isProcessAlive, stopProcess } from './process.js';

export const DEFAULT_LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ManagedPostgres {
  /** URL of the `postgres` maintenance database of the throwaway cluster */
  adminUrl: string;
  port: number;
  pid: number;
  /** holds data/, the socket and postgres.log; removed by stopPostgres */
  dir: string;
  logFile: string;
  binDir: string;
  /** the non-root user the server runs as, when we are root */
  runAs?: { user: string; uid: number; gid: number };
}

export async function isPostgresReachable(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const client = await connectClient(url, { connectionTimeoutMs: timeoutMs });
    await client.query('SELECT 1');
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds the directory holding initdb and pg_ctl: PATH first, then pg_config, then Debian's layout. */
export async function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const candidates = (env.PATH ?? '').split(delimiter).filter(Boolean);
  try {
    const { stdout } = await execa('pg_config', ['--bindir'], { env });
    candidates.push(stdout.trim());
  } catch {
    // no pg_config; try the distribution layout below
  }
  try {
    const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // not a Debian-style install
  }
  for (const dir of candidates) {
    if ((await isExecutable(join(dir, 'initdb'))) && (await isExecutable(join(dir, 'pg_ctl')))) return dir;
  }
  return undefined;
}

/** initdb refuses to run as root, so as root we run the cluster as an unprivileged account. */
async function unprivilegedUser(): Promise<ManagedPostgres['runAs']> {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number((await execa('id', ['-u', user])).stdout.trim());
      const gid = Number((await execa('id', ['-g', user])).stdout.trim());
      return { user, uid, gid };
    } catch {
      // try the next account
    }
  }
  throw new UnavailableError('running as root and no unprivileged account (postgres or nobody) to run a local PostgreSQL as', {
    hint: 'set DATABASE_URL to a PostgreSQL server you already run',
  });
}

/** Starts a throwaway cluster on a free port of 127.0.0.1, tuned for tests (fsync off); with `tls`, ssl=on. */
export async function startPostgres(
  options: {
    log?: Logger;
    /** PEM files of the server's certificate and unencrypted key; copied into the cluster's directory */
    tls?: { certFile: string; keyFile: string };
  } = {},
): Promise<ManagedPostgres> {
  const binDir = await findPostgresBinDir();
  if (!binDir) {
    throw new UnavailableError('no PostgreSQL server accepts connections on 127.0.0.1:5432 and no initdb/pg_ctl was found to start one', {
      hint: 'set DATABASE_URL to a PostgreSQL server you already run, or install the PostgreSQL server binaries (e.g. apt-get install postgresql)',
    });
  }
  const runAs = await unprivilegedUser();
  // Under the system temp dir so an unprivileged account can reach it even when HOME is private.
  const dir = await mkdtemp(join(tmpdir(), 'paymentsctl-pg-'));
  if (runAs) await chown(dir, runAs.uid, runAs.gid);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = await freePort();
  const as = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const run = (bin: string, args: string[]) => execa(join(binDir, bin), args, { ...as, cwd: dir, env: { LC_ALL: 'C' } });
  options.log?.info({ dir, port }, 'starting a throwaway PostgreSQL cluster');
  try {
    await run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
    const tls = options.tls ? await installServerCertificate(options.tls, dir, runAs) : [];
    await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', [...tls, serverOptions(port, dir)].join(' '), '-w', '-t', '60', 'start']);
  } catch (error) {
    const tail = await readFile(logFile, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new UnavailableError(`could not start a local PostgreSQL cluster: ${(error as Error).message}\n${tail.slice(-2000)}`, {
      hint: 'set DATABASE_URL to a PostgreSQL server you already run',
      cause: error,
    });
  }
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, port, pid, dir, logFile, binDir, ...(runAs ? { runAs } : {}) };
}

/** The server refuses a key others can read, or that belongs to another user. */
async function installServerCertificate(
  tls: { certFile: string; keyFile: string },
  dir: string,
  runAs: ManagedPostgres['runAs'],
): Promise<string[]> {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  await copyFile(tls.certFile, cert);
  await copyFile(tls.keyFile, key);
  await chmod(key, 0o600);
  if (runAs) for (const file of [cert, key]) await chown(file, runAs.uid, runAs.gid);
  return ['-c ssl=on', `-c ssl_cert_file=${cert}`, `-c ssl_key_file=${key}`];
}

function serverOptions(port: number, dir: string): string {
  return [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
}

function pgCtl(cluster: ManagedPostgres, args: string[]) {
  const as = cluster.runAs ? { uid: cluster.runAs.uid, gid: cluster.runAs.gid } : {};
  return execa(join(cluster.binDir, 'pg_ctl'), ['-D', join(cluster.dir, 'data'), ...args], {
    ...as,
    cwd: cluster.dir,
    env: { LC_ALL: 'C' },
  });
}

/**
 * Stops the server of a throwaway cluster and keeps its data, to start it again later where its
 * clients expect it. `immediate` is a crash as far as the clients (and recovery) are concerned.
 */
export async function haltPostgres(cluster: ManagedPostgres, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  if (!isProcessAlive(cluster.pid)) return;
  await pgCtl(cluster, ['-m', mode, '-w', '-t', '30', 'stop']).catch(() => undefined);
  await stopProcess(cluster.pid, 10_000);
}

/**
 * Starts a throwaway cluster's server again on its own port with its own data, so every client
 * reconnects to the address it knows. Refuses, rather than move, when another process took the port.
 */
/**
 * A SIGKILLed postmaster leaves postmaster.pid behind, and where nothing reaps orphans (a container
 * whose init does not) its pid stays a zombie that PostgreSQL takes for a running server. Ours is
 * a throwaway cluster whose server we know is gone: its lock files go.
 */
async function removeStaleLockFile(cluster: ManagedPostgres): Promise<void> {
  const lockFile = join(cluster.dir, 'data', 'postmaster.pid');
  const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (pid > 0 && !isProcessAlive(pid)) {
    // and the lock of its Unix socket, which names the same dead pid
    for (const file of [lockFile, join(cluster.dir, `.s.PGSQL.${cluster.port}.lock`)]) await rm(file, { force: true });
  }
}

export async function resumePostgres(cluster: ManagedPostgres): Promise<ManagedPostgres> {
  if (isProcessAlive(cluster.pid) && (await isPostgresReachable(cluster.adminUrl))) return cluster;
  if (!(await portFreeWithin(cluster.port))) {
    throw new UnavailableError(`cannot start PostgreSQL again on port ${cluster.port}: another process listens there now`, {
      hint: `stop whatever took 127.0.0.1:${cluster.port}, then run this again; or \`paymentsctl stack down\` and \`stack up\` for a new stack (its data is lost)`,
    });
  }
  await removeStaleLockFile(cluster);
  try {
    await pgCtl(cluster, ['-l', cluster.logFile, '-o', serverOptions(cluster.port, cluster.dir), '-w', '-t', '60', 'start']);
  } catch (error) {
    const tail = await readFile(cluster.logFile, 'utf8').catch(() => '');
    throw new UnavailableError(`could not start the local PostgreSQL cluster again: ${(error as Error).message}\n${tail.slice(-2000)}`, {
      hint: `see ${cluster.logFile}`,
      cause: error,
    });
  }
  const pid = Number((await readFile(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  return { ...cluster, pid };
}

/** The shell command that does what stopPostgres does, for a person: stop the cluster, remove its directory. */
export function stopPostgresCommand(cluster: ManagedPostgres): string {
  const pgCtl = `${join(cluster.binDir, 'pg_ctl')} -D ${join(cluster.dir, 'data')} -m fast stop`;
  return `${cluster.runAs ? `su ${cluster.runAs.user} -c '${pgCtl}'` : pgCtl} && rm -rf ${cluster.dir}`;
}

export async function stopPostgres(cluster: ManagedPostgres, options: { log?: Logger } = {}): Promise<void> {
  const as = cluster.runAs ? { uid: cluster.runAs.uid, gid: cluster.runAs.gid } : {};
  if (isProcessAlive(cluster.pid)) {
    try {
      await execa(join(cluster.binDir, 'pg_ctl'), ['-D', join(cluster.dir, 'data'), '-m', 'fast', '-w', '-t', '30', 'stop'], as);
    } catch (error) {
      options.log?.warn({ err: error }, 'pg_ctl stop failed; stopping the postmaster by signal');
    }
    // pg_ctl returns when the postmaster is gone; this also covers a failed pg_ctl.
    await stopProcess(cluster.pid, 10_000);
  }
  await rm(cluster.dir, { recursive: true, force: true });
}
