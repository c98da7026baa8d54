import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJson, runCli } from '../helpers/cli.js';
import { createTopics } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';
import { createKafka } from '../../src/kafka/client.js';
import { isProcessAlive } from '../../src/stack/process.js';

interface UpJson {
  databaseUrl: string;
  kafkaBrokers: string;
  stripeApiBase?: string;
  reused: boolean;
}
interface StatusJson {
  postgres?: { pid?: number };
  kafka?: { pid?: number };
  stripe?: { pid?: number };
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The distinct values on `topic`, once there are `expected` of them (a rebalance may show some twice). */
async function readAll(brokers: string, topic: string, expected: number): Promise<Set<string>> {
  const consumer = createKafka({ brokers: [brokers] }).consumer({ groupId: `revive-${Date.now()}`, maxWaitTimeInMs: 100 });
  const values = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.add(message.value!.toString()) });
    await waitFor(`${expected} messages on ${topic}`, () => values.size >= expected);
  } finally {
    await consumer.disconnect();
  }
  return values;
}

/** Listens on `port` once the killed broker's sockets have let go of it. */
async function occupy(port: number): Promise<Server> {
  let server: Server | undefined;
  await waitFor(`port ${port} to be free`, async () => {
    server = await new Promise<Server | undefined>((resolve) => {
      const candidate = createServer();
      candidate.once('error', () => resolve(undefined));
      candidate.listen(port, '127.0.0.1', () => resolve(candidate));
    });
    return server !== undefined;
  });
  return server!;
}

// A stack of its own in its own state directory: killing its parts touches no other test file.
describe('stack up after parts of the stack died', () => {
  let stateDir: string;
  afterAll(async () => {
    if (!stateDir) return;
    await runCli(['stack', 'down'], { PAYMENTSCTL_STATE_DIR: stateDir });
    await rm(stateDir, { recursive: true, force: true });
  });

  it(
    'brings a SIGKILLed broker, PostgreSQL cluster and emulator back on the same addresses with their data, and refuses to move when a port was taken',
    { timeout: 400_000 },
    async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'paymentsctl-revive-test-'));
      const env = { PAYMENTSCTL_STATE_DIR: stateDir };
      const up = await runCli(['stack', 'up', '--json', '--fresh-postgres'], env);
      expect(up.exitCode, up.stderr).toBe(0);
      const first = parseJson<UpJson>(up.stdout);

      await query(first.databaseUrl, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')");
      const topic = 'revive.kept';
      await createTopics(first.kafkaBrokers, [topic], 2);
      const producer = createKafka({ brokers: [first.kafkaBrokers] }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 5}`, value: `m${i}` })) });
      await producer.disconnect();

      const status = async () => parseJson<StatusJson>((await runCli(['stack', 'status', '--json'], env)).stdout);
      const before = await status();
      for (const pid of [before.kafka?.pid, before.postgres?.pid, before.stripe?.pid]) process.kill(pid!, 'SIGKILL');
      await waitFor('the stack to be dead', () =>
        [before.kafka?.pid, before.postgres?.pid, before.stripe?.pid].every((p) => !isProcessAlive(p!)),
      );

      const again = await runCli(['stack', 'up', '--json'], env);
      expect(again.exitCode, again.stderr + again.stdout).toBe(0);
      const revived = parseJson<UpJson>(again.stdout);
      expect(revived).toMatchObject({
        databaseUrl: first.databaseUrl,
        kafkaBrokers: first.kafkaBrokers,
        stripeApiBase: first.stripeApiBase,
      });
      const after = await status();
      expect(after.kafka?.pid).not.toBe(before.kafka?.pid);
      expect(await query(first.databaseUrl, 'SELECT note FROM kept')).toEqual([{ note: 'still here' }]);
      expect((await readAll(first.kafkaBrokers, topic, 50)).size).toBe(50);
      expect((await fetch(`${first.stripeApiBase}/_emulator/health`)).ok).toBe(true);

      // The broker dies again, and its port is taken meanwhile: `up` says so instead of moving.
      process.kill(after.kafka!.pid!, 'SIGKILL');
      await waitFor('the broker to be dead', () => !isProcessAlive(after.kafka!.pid!));
      const port = Number(first.kafkaBrokers.split(':')[1]);
      const squatter = await occupy(port);
      try {
        const refused = await runCli(['stack', 'up', '--json'], env);
        expect(refused.exitCode).not.toBe(0);
        expect(refused.stdout + refused.stderr).toContain(
          `cannot start Kafka again on 127.0.0.1:${port}: another process listens there now`,
        );
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
      const last = await runCli(['stack', 'up', '--json'], env);
      expect(last.exitCode, last.stderr).toBe(0);
      expect(parseJson<UpJson>(last.stdout).kafkaBrokers).toBe(first.kafkaBrokers);
      expect((await readAll(first.kafkaBrokers, topic, 50)).size).toBe(50);
    },
  );
});
