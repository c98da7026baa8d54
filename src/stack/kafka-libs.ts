import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, ExecaError } from 'execa';
import { ConfigError, UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { packageRoot } from './paths.js';
import { isProcessAlive } from './process.js';

/** Versions we have run end to end; each needs its own logging binding (see infra/kafka/pom.xml). */
export const PINNED_KAFKA_VERSIONS: Readonly<Record<string, { profile: 'kafka3' | 'kafka4' }>> = Object.freeze({
  '3.9.1': { profile: 'kafka3' },
  '4.1.1': { profile: 'kafka4' },
  '4.4.0': { profile: 'kafka4' },
});

export const DEFAULT_KAFKA_VERSION = '3.9.1';

/** Printed whenever we cannot run a local broker: the operator can always bring their own. */
export const BRING_YOUR_OWN_BROKER = 'set KAFKA_BROKERS to use a broker you already run';

export function kafkaVersionFrom(env: NodeJS.ProcessEnv): string {
  const version = env.KAFKA_VERSION?.trim() || DEFAULT_KAFKA_VERSION;
  pinnedProfile(version);
  return version;
}

export function pinnedProfile(version: string): 'kafka3' | 'kafka4' {
  const pinned = PINNED_KAFKA_VERSIONS[version];
  if (!pinned) {
    const known = Object.keys(PINNED_KAFKA_VERSIONS).join(', ');
    throw new ConfigError('KAFKA_VERSION', `Kafka ${version} is not a pinned version (pinned: ${known})`, {
      hint: `set KAFKA_VERSION to one of ${known}, or ${BRING_YOUR_OWN_BROKER}`,
    });
  }
  return pinned.profile;
}

/**
 * Resolves the broker's jars with Maven into `<cacheDir>/kafka-<version>/libs` and returns that directory.
 * The marker records the pom's hash, so editing the pom (e.g. a logging binding) invalidates old caches.
 */
export async function resolveKafkaLibs(version: string, opts: { cacheDir: string; log?: Logger }): Promise<string> {
  const profile = pinnedProfile(version);
  const pom = join(packageRoot(), 'infra', 'kafka', 'pom.xml');
  const home = join(opts.cacheDir, `kafka-${version}`);
  const libs = join(home, 'libs');
  const marker = join(home, 'libs.complete');
  const stamp = JSON.stringify({ version, profile, pom: sha256(await readFile(pom)) });

  if ((await readOr(marker)) === stamp) return libs;

  await mkdir(home, { recursive: true });
  await removeAbandonedStaging(home);
  // Resolve beside the final directory and rename, so an interrupted run never looks complete.
  const staging = join(home, `.libs-${process.pid}-${randomBytes(4).toString('hex')}`);
  opts.log?.info({ version, dir: libs }, 'resolving Kafka jars with Maven (first run only)');
  const started = Date.now();
  try {
    await runMaven([
      '-q',
      '-B',
      '-f',
      pom,
      `-P${profile}`,
      `-Dkafka.version=${version}`,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
    ]);
    const jars = await readdir(staging).catch(() => [] as string[]);
    if (!jars.includes(`kafka_2.13-${version}.jar`)) {
      throw new UnavailableError(`Maven finished but kafka_2.13-${version}.jar is missing from ${staging}`, {
        hint: BRING_YOUR_OWN_BROKER,
      });
    }
    // A concurrent run may have finished while Maven ran; keep its result rather than swap it out.
    if ((await readOr(marker)) === stamp) {
      await rm(staging, { recursive: true, force: true });
      return libs;
    }
    // Whatever sits at `libs` now is partial or from an older pom, so it is not trusted.
    await rm(marker, { force: true });
    await rm(libs, { recursive: true, force: true });
    await rename(staging, libs);
    await writeFile(marker, stamp);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // A concurrent run may have won the rename; its result is as good as ours.
    if ((await readOr(marker)) === stamp) return libs;
    throw error;
  }
  opts.log?.info({ version, ms: Date.now() - started }, 'Kafka jars resolved');
  return libs;
}

/** Staging dirs left by runs that were killed mid-download; the pid in the name tells whose they are. */
async function removeAbandonedStaging(home: string): Promise<void> {
  for (const entry of await readdir(home)) {
    const pid = /^\.libs-(\d+)-/.exec(entry)?.[1];
    if (pid && !isProcessAlive(Number(pid))) await rm(join(home, entry), { recursive: true, force: true });
  }
}

async function runMaven(args: string[]): Promise<void> {
  try {
    await execa('mvn', args, { timeout: 15 * 60_000, stdin: 'ignore' });
  } catch (error) {
    if (error instanceof ExecaError && error.code === 'ENOENT') {
      throw new UnavailableError('mvn (Apache Maven) is not installed or not on PATH; it is needed to fetch Kafka', {
        hint: `install Maven, or ${BRING_YOUR_OWN_BROKER}`,
        cause: error,
      });
    }
    // Maven prints its errors on stdout.
    const output = error instanceof ExecaError ? `${String(error.stdout ?? '')}\n${String(error.stderr ?? '')}` : '';
    throw new UnavailableError(`Maven could not resolve Kafka:\n${lastLines(output, 20)}`, {
      hint: `check network access to Maven Central, or ${BRING_YOUR_OWN_BROKER}`,
      cause: error,
    });
  }
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readOr(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}
