// Outbox publisher benchmark: throughput draining a backlog, the raw kafkajs ceiling with the same
// producer settings, and commit → visible-in-Kafka latency at a steady rate.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { Partitioners } from 'kafkajs';
import { createKafka } from '../dist/kafka/client.js';
import { enqueueMany, enqueue } from '../dist/outbox/enqueue.js';
import { cloudEventHeaders } from '../dist/outbox/envelope.js';
import { chunksBySize } from '../dist/outbox/kafka-sink.js';
import { PUBLISHER_DEFAULTS } from '../dist/outbox/publisher.js';
import { withBenchStack, machine, percentile } from './_stack.js';

const BIN = fileURLToPath(new URL('../bin/paymentsctl.js', import.meta.url));
const CONSUMER = fileURLToPath(new URL('./_latency-consumer.js', import.meta.url));
const ROWS = Number(process.env.BENCH_OUTBOX_ROWS ?? 100_000);
const KEYS = 1_000;
const BATCH_SIZE = Number(process.env.BENCH_OUTBOX_BATCH ?? PUBLISHER_DEFAULTS.batchSize);
const LATENCY_RATE = 1_000;
const LATENCY_SECONDS = 20;
const LATENCY_WARMUP_SECONDS = 5;
const TOPIC = 'orders.placed';

/** ~300-byte JSON payloads, like an order event. */
function payload(seq) {
  return {
    order_id: `order-${seq % KEYS}`,
    seq,
    amount: 1000 + (seq % 9000),
    currency: 'usd',
    customer: `cus_${randomBytes(6).toString('hex')}`,
    items: [{ sku: 'BOOK-0001', qty: 1 }],
    note: 'x'.repeat(150),
  };
}

async function createTopic(brokers, topic) {
  const admin = createKafka({ brokers: [brokers] }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

function startPublisher(env, args) {
  const child = execa(process.execPath, [BIN, 'publish-outbox', '--topic', TOPIC, '--metrics-port', '0', ...args], {
    env: { ...env, LOG_LEVEL: 'info' },
    reject: false,
    stdin: 'ignore',
    all: true,
  });
  const leading = new Promise((resolve, reject) => {
    let out = '';
    child.all.on('data', (chunk) => {
      out += chunk;
      if (out.includes('became the active outbox publisher')) resolve(performance.now());
    });
    child.then(() => reject(new Error(`publisher exited:\n${out.slice(-3000)}`)));
  });
  return { child, leading };
}

async function throughput(brokers, url) {
  const prefix = `bench${randomBytes(3).toString('hex')}.`;
  await createTopic(brokers, prefix + TOPIC);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const client = await pool.connect();
  for (let done = 0; done < ROWS; done += 5_000) {
    await client.query('BEGIN');
    await enqueueMany(
      client,
      Array.from({ length: 5_000 }, (_, i) => ({
        topic: TOPIC,
        key: `order-${(done + i) % KEYS}`,
        type: 'orders.placed',
        data: payload(done + i),
      })),
    );
    await client.query('COMMIT');
  }
  client.release();
  await pool.query('VACUUM ANALYZE outbox');

  const { child, leading } = startPublisher({ DATABASE_URL: url, KAFKA_BROKERS: brokers, KAFKA_TOPIC_PREFIX: prefix }, [
    '--batch-size',
    String(BATCH_SIZE),
  ]);
  const started = await leading;
  let finished;
  for (;;) {
    const left = (await pool.query('SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1')).rowCount;
    if (left === 0) {
      finished = performance.now();
      break;
    }
    await sleep(20);
  }
  child.kill('SIGTERM');
  await child;
  // The rows to replay through the raw producer: identical keys, values and headers.
  const rows = (
    await pool.query(
      `SELECT id::text, event_id::text AS "eventId", key, type, payload::text AS payload, headers, created_at AS "createdAt" FROM outbox ORDER BY id`,
    )
  ).rows;
  await pool.end();
  return { eventsPerSec: Math.round(ROWS / ((finished - started) / 1000)), rows };
}

/** The same messages, same producer settings (idempotent, acks=all, one request in flight, same batch and request size), no database. */
async function rawProducer(brokers, rows) {
  const topic = `bench${randomBytes(3).toString('hex')}.raw`;
  await createTopic(brokers, topic);
  const kafka = createKafka({ brokers: [brokers], requestTimeoutMs: 10_000 });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  await producer.connect();
  const messages = rows.map((row) => ({
    key: row.key,
    value: row.payload,
    headers: cloudEventHeaders({ ...row, headers: row.headers ?? {} }, { instance: 'bench', term: '1' }),
  }));
  const started = performance.now();
  for (let i = 0; i < messages.length; i += BATCH_SIZE) {
    for (const chunk of chunksBySize(messages.slice(i, i + BATCH_SIZE), PUBLISHER_DEFAULTS.maxRequestBytes)) {
      await producer.send({ topic, messages: chunk, acks: -1 });
    }
  }
  const elapsed = performance.now() - started;
  await producer.disconnect();
  return Math.round(messages.length / (elapsed / 1000));
}

async function latency(brokers, url) {
  const prefix = `bench${randomBytes(3).toString('hex')}.`;
  await createTopic(brokers, prefix + TOPIC);
  const { child, leading } = startPublisher({ DATABASE_URL: url, KAFKA_BROKERS: brokers, KAFKA_TOPIC_PREFIX: prefix }, []);
  await leading;
  const committedAt = new Map();
  const arrivedAt = new Map();
  const samples = [];
  const now = () => performance.timeOrigin + performance.now();
  const consumer = execa(process.execPath, [CONSUMER, brokers, prefix + TOPIC], { reject: false, stdin: 'ignore', buffer: false });
  let pending = '';
  await new Promise((resolve, reject) => {
    consumer.stdout.on('data', (chunk) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop();
      for (const line of lines) {
        if (line === 'ready') {
          resolve();
          continue;
        }
        const [id, at] = line.split(' ');
        const committed = committedAt.get(id);
        if (committed !== undefined) samples.push(Number(at) - committed);
        else arrivedAt.set(id, Number(at));
      }
    });
    consumer.then((r) => reject(new Error(`latency consumer exited: ${r.stderr}`)));
  });
  await sleep(2_000); // let the consumer join its group before the clock starts

  const pool = new pg.Pool({ connectionString: url, max: 8 });
  let seq = 0;
  const insertOne = async (measured) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const n = seq++;
      const id = await enqueue(client, { topic: TOPIC, key: `order-${n % KEYS}`, type: 'orders.placed', data: payload(n) });
      await client.query('COMMIT');
      if (measured) {
        const committed = now();
        // NOTIFY fires at commit, so the event can reach the consumer before COMMIT's reply reaches us.
        if (arrivedAt.has(id)) samples.push(Math.max(0, arrivedAt.get(id) - committed));
        else committedAt.set(id, committed);
      }
    } finally {
      client.release();
    }
  };
  /** One transaction per event at a steady rate; returns the rate actually achieved. */
  const drive = async (seconds, measured) => {
    const total = LATENCY_RATE * seconds;
    const start = performance.now();
    const inflight = [];
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / LATENCY_RATE - performance.now();
      if (wait > 1) await sleep(wait);
      inflight.push(insertOne(measured));
    }
    await Promise.all(inflight);
    return Math.round(total / ((performance.now() - start) / 1000));
  };
  // Warm-up, not measured: a freshly started broker JVM and publisher are still compiling hot paths.
  await drive(LATENCY_WARMUP_SECONDS, false);
  const total = LATENCY_RATE * LATENCY_SECONDS;
  const achievedRate = await drive(LATENCY_SECONDS, true);
  const deadline = performance.now() + 30_000;
  while (samples.length < total && performance.now() < deadline) await sleep(50);
  consumer.kill('SIGTERM');
  await consumer;
  child.kill('SIGTERM');
  await child;
  await pool.end();
  const sorted = samples.sort((a, b) => a - b);
  return {
    latencyP50Ms: Number(percentile(sorted, 50).toFixed(1)),
    latencyP99Ms: Number(percentile(sorted, 99).toFixed(1)),
    latencySamples: sorted.length,
    achievedRate,
  };
}

export async function run() {
  return withBenchStack(async ({ brokers, newDatabase, kafkaVersion, postgres }) => {
    // Latency first, on a quiet system: the throughput run leaves 100,000 dead rows for autovacuum.
    const latencyFigures = await latency(brokers, await newDatabase());
    const { eventsPerSec, rows } = await throughput(brokers, await newDatabase());
    const rawProducerEventsPerSec = await rawProducer(brokers, rows);
    return {
      eventsPerSec,
      rawProducerEventsPerSec,
      ratio: Number((eventsPerSec / rawProducerEventsPerSec).toFixed(2)),
      latencyP50Ms: latencyFigures.latencyP50Ms,
      latencyP99Ms: latencyFigures.latencyP99Ms,
      rows: ROWS,
      keys: KEYS,
      batchSize: BATCH_SIZE,
      latencyRatePerSec: LATENCY_RATE,
      latencySeconds: LATENCY_SECONDS,
      latencySamples: latencyFigures.latencySamples,
      achievedInsertRatePerSec: latencyFigures.achievedRate,
      kafkaVersion,
      postgres,
      machine: machine(),
    };
  });
}
