// Webhook receiver benchmark: concurrent clients on loopback POST validly signed, distinct
// Checkout Session events to `paymentsctl webhook-serve`, each answered only after its durable
// write (webhook_events + payments row + outbox, one transaction); then the same load against a
// bare Node HTTP server answering 200, the ceiling of this machine's HTTP path.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { signPayload } from '../dist/webhook/signature.js';
import { cpuMeter, per100k } from './_cpu.js';
import { withBenchStack, machine, percentile } from './_stack.js';

const BIN = fileURLToPath(new URL('../bin/paymentsctl.js', import.meta.url));
// Stripe sends an endpoint several deliveries at once; how many depends on its backlog. The headline
// is the last level (64 clients); the others show what fewer clients get (BENCH_WEBHOOK_CONCURRENCY
// measures one level only).
const LEVELS = process.env.BENCH_WEBHOOK_CONCURRENCY ? [Number(process.env.BENCH_WEBHOOK_CONCURRENCY)] : [32, 64];
const CONCURRENCY = LEVELS.at(-1);
const SECONDS = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 20);
const WARMUP_SECONDS = 5;
const POOL_SIZE = Number(process.env.BENCH_WEBHOOK_POOL ?? 8);
const SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const PATH = '/webhook/stripe';

/**
 * A `checkout.session.completed` event as Stripe sends it (pretty-printed, ~1.1 kB), for a trip
 * seen for the first time. Built by filling a template: the load generator shares the two cores
 * with the server, so it must cost as little as it can.
 */
function eventTemplate() {
  const now = Math.floor(Date.now() / 1000);
  const event = {
    id: '@EVENT@',
    object: 'event',
    api_version: '2025-01-27.acacia',
    created: now,
    data: {
      object: {
        id: 'cs_test_@SESSION@',
        object: 'checkout.session',
        amount_subtotal: 2500,
        amount_total: 2500,
        cancel_url: 'https://rides.example/cancelled',
        client_reference_id: '@TRIP@',
        created: now - 60,
        currency: 'usd',
        customer: null,
        customer_email: 'rider@example.com',
        expires_at: now + 86_400,
        livemode: false,
        metadata: { trip_id: '@TRIP@', user_id: '@USER@', driver_id: '@DRIVER@' },
        mode: 'payment',
        payment_intent: 'pi_@INTENT@',
        payment_method_types: ['card'],
        payment_status: 'paid',
        status: 'complete',
        success_url: 'https://rides.example/paid',
        ui_mode: 'hosted',
        url: null,
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed',
  };
  return JSON.stringify(event, null, 2).split(/@(EVENT|SESSION|TRIP|USER|DRIVER|INTENT)@/);
}

const TEMPLATE = eventTemplate();
const SALT = randomBytes(4).toString('hex');

function sessionCompleted(run, seq) {
  const trip = `trip-${SALT}-${run}-${seq}`;
  const values = {
    EVENT: `evt_${SALT}${run}${seq}`,
    SESSION: `${SALT}${run}${seq}`,
    TRIP: trip,
    USER: `user-${seq % 5000}`,
    DRIVER: `driver-${seq % 700}`,
    INTENT: `${SALT}${run}${seq}`,
  };
  let body = '';
  for (let i = 0; i < TEMPLATE.length; i++) body += i % 2 === 0 ? TEMPLATE[i] : values[TEMPLATE[i]];
  return body;
}

function postOnce(agent, port, body, signature) {
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: PATH,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'stripe-signature': signature,
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode));
      },
    );
    request.on('error', () => resolve(0));
    request.end(body);
  });
}

/**
 * `clients` clients, each sending its next request when the previous is answered; with `cpu`
 * (name → pid), the CPU seconds each of those processes and this one spent per 100k requests.
 */
async function load(port, seconds, run, clients = CONCURRENCY, cpu = undefined) {
  const meter = cpu && cpuMeter(cpu);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies = [];
  const statuses = new Map();
  let seq = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  meter?.start();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const body = sessionCompleted(run, seq++);
        const signature = signPayload(body, SECRET);
        const t0 = performance.now();
        const status = await postOnce(agent, port, body, signature);
        latencies.push(performance.now() - t0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuSeconds = meter?.stop();
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    ...(cpuSeconds ? { cpuSecondsPer100k: per100k(cpuSeconds, sorted.length) } : {}),
    requests: sorted.length,
    ok: [...statuses].filter(([s]) => s >= 200 && s < 300).reduce((n, [, c]) => n + c, 0),
    statuses: Object.fromEntries(statuses),
    requestsPerSec: Math.round(sorted.length / elapsed),
    p50Ms: Number(percentile(sorted, 50).toFixed(1)),
    p99Ms: Number(percentile(sorted, 99).toFixed(1)),
  };
}

async function waitHealthy(port) {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(25);
  }
  throw new Error(`nothing healthy on port ${port}`);
}

/** Starts a child that logs the port it bound, keeps draining its output, and returns both. */
async function spawnListening(command, args, env, portOf) {
  const child = execa(command, args, { env, extendEnv: false, reject: false, stdin: 'ignore', all: true, buffer: false });
  let head = '';
  const port = await new Promise((resolve, reject) => {
    child.all.on('data', (chunk) => {
      if (head.length > 100_000) return;
      head += chunk;
      const port = portOf(head);
      if (port) resolve(port);
    });
    child.then(() => reject(new Error(`exited before listening:\n${head.slice(-3000)}`)));
  });
  return { child, port };
}

async function webhookServe(databaseUrl, brokers) {
  const { child, port } = await spawnListening(
    process.execPath,
    [BIN, 'webhook-serve', '--host', '127.0.0.1', '--port', '0', '--pool-size', String(POOL_SIZE)],
    { DATABASE_URL: databaseUrl, KAFKA_BROKERS: brokers, STRIPE_WEBHOOK_SECRET: SECRET, LOG_LEVEL: 'info' },
    (out) => {
      const line = out.split('\n').find((l) => l.includes('webhook-serve listening'));
      return line ? JSON.parse(line).port : undefined;
    },
  );
  await waitHealthy(port);
  return { child, port };
}

const BARE_SERVER = `
const http = require('node:http');
const server = http.createServer((request, response) => {
  request.on('data', () => {});
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"received":true}');
  });
});
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function bareServer() {
  return spawnListening(process.execPath, ['-e', BARE_SERVER], {}, (out) => {
    const match = /port (\d+)/.exec(out);
    return match ? Number(match[1]) : undefined;
  });
}

function printCpu(label, level) {
  const figures = Object.entries(level.cpuSecondsPer100k)
    .map(([name, seconds]) => `${name} ${seconds}`)
    .join(', ');
  console.log(
    `  ${label}: ${level.requestsPerSec} requests/s, p50 ${level.p50Ms} ms, p99 ${level.p99Ms} ms; CPU s per 100k requests: ${figures}`,
  );
}

async function stop(child) {
  child.kill('SIGTERM');
  await child;
}

export async function run() {
  return withBenchStack(async ({ brokers, newDatabase, kafkaVersion, postgres, pids }) => {
    const databaseUrl = await newDatabase();
    const serve = await webhookServe(databaseUrl, brokers);
    // Warm-up, not measured: JIT, connection pool, the database's caches.
    await load(serve.port, WARMUP_SECONDS, 'w');
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    const before = Number((await pool.query('SELECT count(*) FROM outbox')).rows[0].count);
    const levels = [];
    const processes = { receiver: serve.child.pid, postgres: pids.postgres, kafka: pids.kafka };
    for (const [i, clients] of LEVELS.entries()) {
      const level = { concurrency: clients, ...(await load(serve.port, SECONDS, `m${i}`, clients, processes)) };
      levels.push(level);
      printCpu(`${clients} clients`, level);
    }
    await stop(serve.child);
    // Every 2xx is a committed row: the figures count only work that was really done.
    const after = Number((await pool.query('SELECT count(*) FROM outbox')).rows[0].count);
    await pool.end();
    const durable = levels.at(-1);

    const bare = await bareServer();
    await load(bare.port, WARMUP_SECONDS, 'bw');
    const ceiling = await load(bare.port, SECONDS, 'b', CONCURRENCY, { bare: bare.child.pid });
    printCpu('bare server', ceiling);
    await stop(bare.child);

    return {
      requestsPerSec: durable.requestsPerSec,
      p50Ms: durable.p50Ms,
      p99Ms: durable.p99Ms,
      bareRequestsPerSec: ceiling.requestsPerSec,
      bareP99Ms: ceiling.p99Ms,
      ratio: Number((durable.requestsPerSec / ceiling.requestsPerSec).toFixed(2)),
      concurrency: CONCURRENCY,
      cpuSecondsPer100kRequests: durable.cpuSecondsPer100k,
      bareCpuSecondsPer100kRequests: ceiling.cpuSecondsPer100k,
      byConcurrency: levels.map(({ concurrency, requestsPerSec, p50Ms, p99Ms, cpuSecondsPer100k }) => ({
        concurrency,
        requestsPerSec,
        p50Ms,
        p99Ms,
        cpuSecondsPer100k,
      })),
      requests: levels.reduce((n, level) => n + level.requests, 0),
      answered2xx: levels.reduce((n, level) => n + level.ok, 0),
      statuses: durable.statuses,
      outboxRowsWritten: after - before,
      seconds: SECONDS,
      dbPoolSize: POOL_SIZE,
      event: 'checkout.session.completed (paid), a new trip each, ~1.1 kB',
      kafkaVersion,
      postgres,
      machine: machine(),
    };
  });
}
