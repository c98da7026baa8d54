// Outbox publisher benchmark: commit → visible-in-Kafka latency at a steady rate (with each
// event's stages traced, and again without coalescing for comparison), throughput draining a
// backlog, a burst of rows arriving while the publisher runs, and the raw kafkajs ceiling with the
// same producer settings. CPU seconds per 100k events for every process, from /proc.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { cpuMeter, per100k } from './_cpu.js';
import { stageFigures } from './_stages.js';

const BIN = fileURLToPath(new URL('../bin/paymentsctl.js', import.meta.url));
const CONSUMER = fileURLToPath(new URL('./_latency-consumer.js', import.meta.url));
const ROWS = Number(process.env.BENCH_OUTBOX_ROWS ?? 100_000);
const KEYS = 1_000;
const BATCH_SIZE = Number(process.env.BENCH_OUTBOX_BATCH ?? PUBLISHER_DEFAULTS.batchSize);
const FILL_TRANSACTION_ROWS = 5_000;
const LATENCY_RATE = 1_000;
// Two rounds of 10 s per setting: 20 s, 20,000 events each.
const LATENCY_SECONDS = Number(process.env.BENCH_OUTBOX_LATENCY_SECONDS ?? 10);
const LATENCY_ROUNDS = 2;
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

// e.g. BENCH_PUBLISHER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/some/dir' to profile the publisher
const BACKLOG_ARGS = (process.env.BENCH_BACKLOG_ARGS ?? '').split(' ').filter(Boolean);
const PUBLISHER_NODE_ARGS = (process.env.BENCH_PUBLISHER_NODE_ARGS ?? '').split(' ').filter(Boolean);

function startPublisher(env, args = []) {
  const child = execa(process.execPath, [...PUBLISHER_NODE_ARGS, BIN, 'publish-outbox', '--topic', TOPIC, '--metrics-port', '0', ...args], {
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

async function stopChild(child) {
  child.kill('SIGTERM');
  await child;
}

/** Inserts ROWS rows in transactions of FILL_TRANSACTION_ROWS, as fast as one connection can; returns the seconds it took. */
async function fill(pool) {
  const client = await pool.connect();
  const started = performance.now();
  for (let done = 0; done < ROWS; done += FILL_TRANSACTION_ROWS) {
    await client.query('BEGIN');
    await enqueueMany(
      client,
      Array.from({ length: Math.min(FILL_TRANSACTION_ROWS, ROWS - done) }, (_, i) => ({
        topic: TOPIC,
        key: `order-${(done + i) % KEYS}`,
        type: 'orders.placed',
        data: payload(done + i),
      })),
    );
    await client.query('COMMIT');
  }
  client.release();
  return (performance.now() - started) / 1000;
}

async function untilPublished(pool) {
  for (;;) {
    if ((await pool.query('SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1')).rowCount === 0) return performance.now();
    await sleep(20);
  }
}

function env(brokers, url, prefix) {
  return { DATABASE_URL: url, KAFKA_BROKERS: brokers, KAFKA_TOPIC_PREFIX: prefix };
}

/** A backlog of ROWS rows, then a publisher started: from leading to the last row marked. */
export async function backlog(stack, url) {
  const prefix = `bench${randomBytes(3).toString('hex')}.`;
  await createTopic(stack.brokers, prefix + TOPIC);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const fillSeconds = await fill(pool);
  await pool.query('VACUUM ANALYZE outbox');

  const publisher = startPublisher(env(stack.brokers, url, prefix), ['--batch-size', String(BATCH_SIZE), ...BACKLOG_ARGS]);
  const meter = cpuMeter({ publisher: publisher.child.pid, ...stack.pids });
  // Not the process start-up: it is paid once, not per event.
  const started = await publisher.leading;
  meter.start();
  const finished = await untilPublished(pool);
  const cpu = meter.stop();
  await stopChild(publisher.child);
  // The rows to replay through the raw producer: identical keys, values and headers.
  const rows = (
    await pool.query(
      `SELECT id::text, event_id::text AS "eventId", key, type, payload::text AS payload, headers, created_at AS "createdAt" FROM outbox ORDER BY id`,
    )
  ).rows;
  await pool.end();
  return {
    eventsPerSec: Math.round(ROWS / ((finished - started) / 1000)),
    insertOnlyRowsPerSec: Math.round(ROWS / fillSeconds),
    cpu: per100k(cpu, ROWS),
    rows,
  };
}

/** The publisher running and idle; ROWS rows inserted as fast as for the backlog: from the first insert to the last row marked. */
async function liveBurst(stack, url) {
  const prefix = `bench${randomBytes(3).toString('hex')}.`;
  await createTopic(stack.brokers, prefix + TOPIC);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const publisher = startPublisher(env(stack.brokers, url, prefix), ['--batch-size', String(BATCH_SIZE)]);
  await publisher.leading;
  await sleep(1_000);
  const meter = cpuMeter({ publisher: publisher.child.pid, ...stack.pids });
  meter.start();
  const started = performance.now();
  const fillSeconds = await fill(pool);
  const finished = await untilPublished(pool);
  const cpu = meter.stop();
  await stopChild(publisher.child);
  await pool.end();
  return {
    eventsPerSec: Math.round(ROWS / ((finished - started) / 1000)),
    insertRowsPerSec: Math.round(ROWS / fillSeconds),
    cpu: per100k(cpu, ROWS),
  };
}

/** The same messages, same producer settings (idempotent, acks=all, one request in flight, same batch and request size), no database. */
async function rawProducer(stack, rows) {
  const topic = `bench${randomBytes(3).toString('hex')}.raw`;
  await createTopic(stack.brokers, topic);
  const kafka = createKafka({ brokers: [stack.brokers], requestTimeoutMs: 10_000 });
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
  const meter = cpuMeter({ kafka: stack.pids.kafka });
  meter.start();
  const started = performance.now();
  for (let i = 0; i < messages.length; i += BATCH_SIZE) {
    for (const chunk of chunksBySize(messages.slice(i, i + BATCH_SIZE), PUBLISHER_DEFAULTS.maxRequestBytes)) {
      await producer.send({ topic, messages: chunk, acks: -1 });
    }
  }
  const elapsed = performance.now() - started;
  const cpu = meter.stop();
  await producer.disconnect();
  return { eventsPerSec: Math.round(messages.length / (elapsed / 1000)), cpu: per100k(cpu, messages.length) };
}

/** Steady LATENCY_RATE events/s, one transaction each, for LATENCY_SECONDS after a warm-up. */
export async function latency(stack, url, publisherArgs) {
  const prefix = `bench${randomBytes(3).toString('hex')}.`;
  await createTopic(stack.brokers, prefix + TOPIC);
  const traceDir = await mkdtemp(join(tmpdir(), 'paymentsctl-bench-trace-'));
  const traceFile = join(traceDir, 'stages.jsonl');
  const publisher = startPublisher(env(stack.brokers, url, prefix), ['--trace-stages', traceFile, ...publisherArgs]);
  await publisher.leading;
  const committedAt = new Map();
  const visibleAt = new Map();
  const measuredIds = [];
  const now = () => performance.timeOrigin + performance.now();
  const consumer = execa(process.execPath, [CONSUMER, stack.brokers, prefix + TOPIC], { reject: false, stdin: 'ignore', buffer: false });
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
        visibleAt.set(id, Number(at));
      }
    });
    consumer.then((r) => reject(new Error(`latency consumer exited: ${r.stderr}`)));
  });
  await sleep(2_000); // let the consumer join its group before the clock starts

  const pool = new pg.Pool({ connectionString: url, max: 8 });
  let seq = 0;
  // Each INSERT is a transaction of its own (autocommit): one event per transaction, in one round
  // trip, so the load generator leaves as much of the machine as it can to what is measured.
  const insertOne = async (measured) => {
    const n = seq++;
    const id = await enqueue(pool, { topic: TOPIC, key: `order-${n % KEYS}`, type: 'orders.placed', data: payload(n) });
    if (measured) {
      committedAt.set(id, now());
      measuredIds.push(id);
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
  const meter = cpuMeter({ publisher: publisher.child.pid, consumer: consumer.pid, ...stack.pids });
  meter.start();
  const achievedRate = await drive(LATENCY_SECONDS, true);
  const deadline = performance.now() + 30_000;
  while (measuredIds.filter((id) => visibleAt.has(id)).length < total && performance.now() < deadline) await sleep(50);
  const cpu = meter.stop();
  await stopChild(consumer);
  await stopChild(publisher.child);
  await pool.end();
  const trace = (await readFile(traceFile, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  await rm(traceDir, { recursive: true, force: true });
  return { trace, measuredIds, committedAt, visibleAt, cpu, events: total, seconds: LATENCY_SECONDS, achievedRate };
}

/** Figures over several latency runs of one setting (samples pooled, CPU summed). */
function summarize(runs) {
  const measuredIds = runs.flatMap((r) => r.measuredIds);
  const committedAt = new Map(runs.flatMap((r) => [...r.committedAt]));
  const visibleAt = new Map(runs.flatMap((r) => [...r.visibleAt]));
  const events = runs.reduce((sum, r) => sum + r.events, 0);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  const cpu = {};
  for (const run of runs) for (const [name, s] of Object.entries(run.cpu)) cpu[name] = (cpu[name] ?? 0) + s;
  // NOTIFY fires at commit, so an event can reach the consumer before COMMIT's reply reaches us.
  const endToEnd = measuredIds
    .filter((id) => visibleAt.has(id))
    .map((id) => Math.max(0, visibleAt.get(id) - committedAt.get(id)))
    .sort((a, b) => a - b);
  const stages = stageFigures(
    runs.flatMap((r) => r.trace),
    measuredIds,
    committedAt,
    visibleAt,
  );
  return {
    p50Ms: Number(percentile(endToEnd, 50).toFixed(1)),
    p99Ms: Number(percentile(endToEnd, 99).toFixed(1)),
    samples: endToEnd.length,
    achievedRate: Math.min(...runs.map((r) => r.achievedRate)),
    stages: stages.stages,
    eventsPerRequest: stages.eventsPerRequest,
    requestsPerSec: Math.round(stages.requests / seconds),
    cpu: per100k(cpu, events),
  };
}

/**
 * A fresh broker JVM spends its first minute of load compiling its hot paths, at a CPU cost that
 * would be charged to whichever phase came first: small produce requests read by a consumer, first.
 */
async function warmBroker(stack) {
  const topic = `bench${randomBytes(3).toString('hex')}.warmup`;
  await createTopic(stack.brokers, topic);
  const kafka = createKafka({ brokers: [stack.brokers] });
  const consumer = kafka.consumer({ groupId: `warmup-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachBatchAutoResolve: true, eachBatch: async () => undefined });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const until = performance.now() + 20_000;
  for (let i = 0; performance.now() < until; i++) {
    const messages = Array.from({ length: 1 + (i % 10) }, (_, n) => ({
      key: `order-${(i + n) % KEYS}`,
      value: JSON.stringify(payload(i)),
    }));
    await producer.send({ topic, messages, acks: -1 });
  }
  await producer.disconnect();
  await consumer.disconnect();
}

function print(title, figures) {
  console.log(`${title}: ${JSON.stringify(figures)}`);
}

export async function run() {
  return withBenchStack(async (stack) => {
    await warmBroker(stack);
    // Latency first, on a quiet system: the throughput runs leave dead rows for autovacuum.
    // With and without coalescing in turns, A B A B, so neither gets the quieter half of the run.
    const runs = { coalesced: [], uncoalesced: [] };
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      runs.uncoalesced.push(await latency(stack, await stack.newDatabase(), ['--linger', '0']));
      runs.coalesced.push(await latency(stack, await stack.newDatabase(), []));
    }
    const coalesced = summarize(runs.coalesced);
    print('1,000 events/s', coalesced);
    const uncoalesced = summarize(runs.uncoalesced);
    print('1,000 events/s, --linger 0', uncoalesced);
    const drained = await backlog(stack, await stack.newDatabase());
    print('backlog', { ...drained, rows: undefined });
    const burst = await liveBurst(stack, await stack.newDatabase());
    print('live burst', burst);
    const raw = await rawProducer(stack, drained.rows);
    print('raw producer', raw);
    const brokerRatio = Number((coalesced.cpu.kafka / uncoalesced.cpu.kafka).toFixed(2));
    const ratio = Number((drained.eventsPerSec / raw.eventsPerSec).toFixed(2));
    const targets = {
      'latencyP50Ms <= 8': coalesced.p50Ms <= 8,
      'latencyP99Ms <= 30': coalesced.p99Ms <= 30,
      'ratio >= 0.7': ratio >= 0.7,
      'liveBurst >= backlog': burst.eventsPerSec >= drained.eventsPerSec,
      'broker CPU at 1,000/s <= 0.5 x uncoalesced': brokerRatio <= 0.5,
    };
    for (const [target, met] of Object.entries(targets)) console.log(`${met ? 'met    ' : 'NOT MET'}  ${target}`);
    return {
      eventsPerSec: drained.eventsPerSec,
      rawProducerEventsPerSec: raw.eventsPerSec,
      ratio,
      liveBurstEventsPerSec: burst.eventsPerSec,
      liveBurstInsertRowsPerSec: burst.insertRowsPerSec,
      insertOnlyRowsPerSec: drained.insertOnlyRowsPerSec,
      latencyP50Ms: coalesced.p50Ms,
      latencyP99Ms: coalesced.p99Ms,
      eventsPerRequest: coalesced.eventsPerRequest,
      produceRequestsPerSec: coalesced.requestsPerSec,
      brokerCpuPer100kAt1000: coalesced.cpu.kafka,
      brokerCpuPer100kAt1000Uncoalesced: uncoalesced.cpu.kafka,
      brokerCpuRatio: brokerRatio,
      uncoalescedP50Ms: uncoalesced.p50Ms,
      uncoalescedP99Ms: uncoalesced.p99Ms,
      uncoalescedEventsPerRequest: uncoalesced.eventsPerRequest,
      stagesMs: coalesced.stages,
      uncoalescedStagesMs: uncoalesced.stages,
      cpuSecondsPer100kEvents: {
        at1000PerSec: coalesced.cpu,
        at1000PerSecUncoalesced: uncoalesced.cpu,
        backlog: drained.cpu,
        liveBurst: burst.cpu,
        rawProducer: raw.cpu,
      },
      targets,
      rows: ROWS,
      keys: KEYS,
      batchSize: BATCH_SIZE,
      lingerMs: PUBLISHER_DEFAULTS.lingerMs,
      latencyRatePerSec: LATENCY_RATE,
      latencySeconds: LATENCY_SECONDS * LATENCY_ROUNDS,
      latencySamples: coalesced.samples,
      achievedInsertRatePerSec: coalesced.achievedRate,
      kafkaVersion: stack.kafkaVersion,
      postgres: stack.postgres,
      machine: machine(),
    };
  });
}
