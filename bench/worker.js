// Worker benchmark: 20,000 orders already on orders.placed, the Stripe emulator with no added
// latency, the publisher running; payments per second from the worker's first consume to the last
// payments.completed visible in Kafka, with 1 and with 3 worker processes, and the CPU seconds per
// 100k payments each process spent over that stretch. BENCH_CPU_PROF=1 also writes V8 CPU profiles
// of the workers and the emulator (the path is printed).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Partitioners } from 'kafkajs';
import { createKafka } from '../dist/kafka/client.js';
import { ensurePipelineTopics } from '../dist/kafka/ensure.js';
import { withBenchStack, machine } from './_stack.js';
import { cpuMeter, per100k } from './_cpu.js';

const BIN = fileURLToPath(new URL('../bin/paymentsctl.js', import.meta.url));
const ORDERS = Number(process.env.BENCH_WORKER_ORDERS ?? 20_000);
const PARTITIONS = 6;
// e.g. BENCH_WORKER_ARGS='--concurrency 16' to compare worker settings
const WORKER_ARGS = (process.env.BENCH_WORKER_ARGS ?? '').split(' ').filter(Boolean);
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? mkdtempSync(join(tmpdir(), 'paymentsctl-worker-profiles-')) : undefined;

/** Starts a role of the binary and resolves once `ready` matches one of its log lines. */
function startRole(args, env, ready, { profile } = {}) {
  const node = profile && PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', join(PROFILE_DIR, profile)] : [];
  const child = execa(process.execPath, [...node, BIN, ...args], {
    env: { LOG_LEVEL: 'info', ...env },
    reject: false,
    stdin: 'ignore',
    all: true,
  });
  let out = '';
  const started = new Promise((resolve, reject) => {
    child.all.on('data', (chunk) => {
      out += chunk;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line);
          if (ready(entry)) return resolve({ entry, at: performance.now() });
        } catch {
          // a partial line; the next chunk completes it
        }
      }
    });
    child.then(() => reject(new Error(`${args[0]} exited:\n${out.slice(-3000)}`)));
  });
  return { child, started, output: () => out };
}

async function fillOrders(brokers, topic) {
  const producer = createKafka({ brokers: [brokers] }).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const now = new Date().toISOString();
  for (let i = 0; i < ORDERS; i += 2_000) {
    const messages = [];
    for (let n = i; n < Math.min(ORDERS, i + 2_000); n++) {
      const order = {
        order_id: `order-${n}`,
        amount: 1000 + (n % 9000),
        currency: 'usd',
        customer: `cus_${n % 500}`,
        payment_method: 'pm_card_visa',
      };
      messages.push({
        key: order.order_id,
        value: JSON.stringify(order),
        headers: {
          ce_specversion: '1.0',
          ce_id: randomUUID(),
          ce_type: 'orders.placed',
          ce_source: 'bench',
          ce_time: now,
          'content-type': 'application/json',
        },
      });
    }
    await producer.send({ topic, messages, acks: -1 });
  }
  await producer.disconnect();
}

/** Counts distinct orders on payments.completed until all arrived; resolves with the time of the last. */
async function watchCompleted(brokers, topic) {
  const consumer = createKafka({ brokers: [brokers] }).consumer({
    groupId: `bench-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 50,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) seen.add(message.key.toString());
      if (seen.size >= ORDERS) resolveDone(performance.now());
    },
  });
  return { done, seen, stop: () => consumer.disconnect() };
}

async function run1(stack, workers) {
  const label = `${workers}w`;
  const prefix = `bench${randomBytes(3).toString('hex')}.`;
  const url = await stack.newDatabase();
  await ensurePipelineTopics({ brokers: [stack.brokers], prefix, partitions: PARTITIONS });
  await fillOrders(stack.brokers, `${prefix}orders.placed`);

  const emulator = startRole(['stripe-emulator', '--port', '0', '--seed', '1'], {}, (e) => e.msg === 'stripe emulator listening', {
    profile: `${label}-emulator`,
  });
  const { entry } = await emulator.started;
  const env = {
    DATABASE_URL: url,
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    STRIPE_API_BASE: entry.url,
    STRIPE_API_KEY: 'sk_test_bench',
  };
  const publisher = startRole(['publish-outbox', '--metrics-port', '0'], env, (e) => e.msg === 'became the active outbox publisher');
  await publisher.started;
  const watcher = await watchCompleted(stack.brokers, `${prefix}payments.completed`);

  const roles = [];
  for (let i = 0; i < workers; i++)
    roles.push(
      startRole(
        ['worker', '--metrics-port', '0', '--handlers', 'payments', ...WORKER_ARGS],
        env,
        (e) => e.msg === 'joined consumer group',
        {
          profile: `${label}-worker`,
        },
      ),
    );
  const workerNames = roles.map((_, i) => `worker${i + 1}`);
  const meter = cpuMeter({
    ...Object.fromEntries(roles.map((role, i) => [workerNames[i], role.child.pid])),
    emulator: emulator.child.pid,
    publisher: publisher.child.pid,
    kafka: stack.pids.kafka,
    postgres: stack.pids.postgres,
  });
  // The first worker to join its group starts consuming at once: the measured stretch starts there
  // (a later worker's start-up, if any remains, is its own fixed cost and counts).
  const firstConsume = await Promise.race(roles.map((r) => r.started.then((s) => s.at)));
  meter.start();
  await Promise.all(roles.map((r) => r.started));
  // Aborted once the run ends: a pending ten-minute timer would otherwise keep the process alive.
  const stopTimeout = new AbortController();
  const timeout = sleep(600_000, undefined, { signal: stopTimeout.signal }).then(
    () => {
      throw new Error(`timed out: ${watcher.seen.size} of ${ORDERS} payments.completed`);
    },
    () => new Promise(() => undefined),
  );
  const lastVisible = await Promise.race([watcher.done, timeout]).finally(() => stopTimeout.abort());
  const cpu = meter.stop();
  const seconds = (lastVisible - firstConsume) / 1000;
  const { handlerMs, handled, duplicates, rebalances, messagesPerTransaction } = await workerStats(roles);

  await watcher.stop();
  for (const role of [...roles, publisher, emulator]) {
    role.child.kill('SIGTERM');
    await role.child;
  }
  const workerSeconds = workerNames.reduce((sum, name) => sum + cpu[name], 0);
  const cpuSeconds = { workers: Number(workerSeconds.toFixed(2)), ...cpu };
  const total = Object.entries(cpuSeconds).reduce((sum, [name, s]) => (name === 'workers' ? sum : sum + s), 0);
  cpuSeconds.total = Number(total.toFixed(2));
  return {
    paymentsPerSec: Math.round(ORDERS / seconds),
    seconds: Number(seconds.toFixed(1)),
    handlerMs,
    messagesPerTransaction,
    handled,
    duplicates,
    rebalances,
    cpuSecondsPer100k: per100k(cpuSeconds, ORDERS),
    // CPU seconds over wall seconds: how much of the machine the measured stretch took
    cpuBusy: Number((total / seconds).toFixed(2)),
  };
}

function printCpu(label, run) {
  const figures = Object.entries(run.cpuSecondsPer100k)
    .map(([name, s]) => `${name} ${s}`)
    .join(', ');
  console.log(`  CPU s per 100k payments (${label}): ${figures}; ${run.cpuBusy} cores busy`);
  console.log(
    `  messages handled ${run.handled} (${run.duplicates} duplicates), ${run.messagesPerTransaction} per transaction, ${run.rebalances} rebalances`,
  );
}

/**
 * From the workers' /metrics and logs: the mean time on one message (Stripe call and transaction),
 * how many messages they handled (more than the orders when a rebalance made one redo another's
 * work), how many of those the inbox found already applied, and how often their group rebalanced.
 */
async function workerStats(roles) {
  let sum = 0;
  let count = 0;
  let handled = 0;
  let duplicates = 0;
  let rebalances = 0;
  let batchSum = 0;
  let batches = 0;
  for (const role of roles) {
    const lines = role.output().split('\n');
    rebalances += lines.filter((l) => l.includes('"consumer group rebalancing"')).length;
    const line = lines.find((l) => l.includes('serving /healthz'));
    const text = await (await fetch(`http://127.0.0.1:${JSON.parse(line).port}/metrics`)).text();
    const samples = (name) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(name))
        .map((l) => ({ line: l, value: Number(l.split(' ').pop()) }));
    const total = (name) => samples(name).reduce((n, s) => n + s.value, 0);
    sum += total('paymentsctl_worker_handler_duration_seconds_sum');
    batchSum += total('paymentsctl_worker_commit_batch_messages_sum');
    batches += total('paymentsctl_worker_commit_batch_messages_count');
    count += total('paymentsctl_worker_handler_duration_seconds_count');
    handled += total('paymentsctl_worker_messages_processed_total');
    duplicates += samples('paymentsctl_worker_messages_processed_total')
      .filter((s) => s.line.includes('result="duplicate"'))
      .reduce((n, s) => n + s.value, 0);
  }
  return {
    handlerMs: count ? Number(((sum / count) * 1000).toFixed(1)) : null,
    handled,
    duplicates,
    rebalances,
    messagesPerTransaction: batches ? Number((batchSum / batches).toFixed(1)) : null,
  };
}

export async function run() {
  return withBenchStack(async (stack) => {
    // BENCH_WORKER_ONLY=1 or =3 runs one of the two (for comparing changes); the figures of the
    // other are then absent.
    const only = process.env.BENCH_WORKER_ONLY;
    const skipped = {
      paymentsPerSec: null,
      seconds: null,
      handlerMs: null,
      messagesPerTransaction: null,
      handled: null,
      duplicates: null,
      rebalances: null,
      cpuSecondsPer100k: null,
      cpuBusy: null,
    };
    const one = only === '3' ? skipped : await run1(stack, 1);
    if (one !== skipped) {
      console.log(`1 worker: ${one.paymentsPerSec} payments/s (${one.seconds} s, ${one.handlerMs} ms per message)`);
      printCpu('1 worker', one);
    }
    const three = only === '1' ? skipped : await run1(stack, 3);
    if (three !== skipped) {
      console.log(`3 workers: ${three.paymentsPerSec} payments/s (${three.seconds} s, ${three.handlerMs} ms per message)`);
      printCpu('3 workers', three);
    }
    if (PROFILE_DIR) console.log(`CPU profiles: ${PROFILE_DIR}`);
    return {
      orders: ORDERS,
      partitions: PARTITIONS,
      paymentsPerSec1: one.paymentsPerSec,
      paymentsPerSec3: three.paymentsPerSec,
      seconds1: one.seconds,
      seconds3: three.seconds,
      handlerMs1: one.handlerMs,
      handlerMs3: three.handlerMs,
      messagesPerTransaction1: one.messagesPerTransaction,
      messagesPerTransaction3: three.messagesPerTransaction,
      cpuSecondsPer100k1: one.cpuSecondsPer100k,
      cpuSecondsPer100k3: three.cpuSecondsPer100k,
      cpuBusy1: one.cpuBusy,
      cpuBusy3: three.cpuBusy,
      rebalances3: three.rebalances,
      duplicates3: three.duplicates,
      target: { paymentsPerSec1: 1000 },
      workerConcurrency: 32,
      kafka: stack.kafkaVersion,
      postgres: stack.postgres,
      stripe: 'paymentsctl stripe-emulator, no added latency, separate process',
      machine: machine(),
    };
  });
}
