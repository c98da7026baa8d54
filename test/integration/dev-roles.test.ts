import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SupervisedRole } from '../../src/dev/roles.js';
import { createLogger } from '../../src/log.js';
import { freePort } from '../../src/stack/ports.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let runDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  runDir = await mkdtemp(join(tmpdir(), 'paymentsctl-roles-test-'));
});

afterAll(async () => {
  await db.drop();
  await rm(runDir, { recursive: true, force: true });
});

async function workerRole(env: Record<string, string>, notes: string[]): Promise<SupervisedRole> {
  const opsPort = await freePort();
  const spec = {
    name: 'worker' as const,
    argv: ['worker', '--metrics-host', '127.0.0.1', '--metrics-port', String(opsPort)],
    opsPort,
    env,
  };
  return new SupervisedRole(spec, runDir, createLogger({ level: 'silent' }), (line) => notes.push(line));
}

describe('a supervised dev role', () => {
  it(
    'tries a role that exits "unavailable" before it was ready a few more times, then gives up with its log',
    { timeout: 60_000 },
    async () => {
      const notes: string[] = [];
      // Nothing listens on port 1: the worker waits out its outage limit (1 s here), then exits 3, each time.
      const role = await workerRole(
        {
          DATABASE_URL: db.url,
          KAFKA_BROKERS: '127.0.0.1:1',
          OUTAGE_LIMIT: '1s',
          STRIPE_API_KEY: 'sk_test_roles',
          STRIPE_API_BASE: 'http://127.0.0.1:9',
        },
        notes,
      );
      try {
        await expect(role.start()).rejects.toThrow(
          /worker exited with code 3 before it was ready; its last log lines:\n[\s\S]*cannot reach Kafka at 127\.0\.0\.1:1/,
        );
        expect(notes.filter((line) => line.includes('could not start yet'))).toHaveLength(3);
        expect(role.snapshot()).toMatchObject({ state: 'down', restarts: 3, unexpectedExits: 1, kills: 0 });
      } finally {
        await role.stop();
      }
    },
  );

  it('gives up at once on a role whose configuration cannot work (exit 2)', { timeout: 60_000 }, async () => {
    const notes: string[] = [];
    const role = await workerRole(
      { DATABASE_URL: db.url, KAFKA_BROKERS: '127.0.0.1:1', STRIPE_API_KEY: 'sk_test_roles', STRIPE_API_BASE: 'not a url' },
      notes,
    );
    try {
      await expect(role.start()).rejects.toThrow(/worker exited with code 2 before it was ready/);
      expect(notes).toEqual([]);
      expect(role.snapshot()).toMatchObject({ restarts: 0, unexpectedExits: 1 });
    } finally {
      await role.stop();
    }
  });
});
