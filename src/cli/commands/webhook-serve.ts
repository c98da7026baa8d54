import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addOpsOptions, addSchemaOptions, addStoreOptions, type OpsFlags, type SchemaFlags, type StoreFlags } from '../options.js';
import { ConfigError } from '../../errors.js';

interface WebhookServeFlags extends StoreFlags, OpsFlags, SchemaFlags {
  host: string;
  port: string;
  path: string;
  tolerance: string;
  maxBody: string;
  poolSize: string;
}

const OPS_PATHS = ['/healthz', '/readyz', '/metrics'];

export function webhookServeCommand(ctx: () => CliContext): Command {
  const command = new Command('webhook-serve')
    .summary('receive Stripe webhooks: verify Stripe-Signature, record durably, emit payments.* events')
    .description(
      'Serve the public endpoint Stripe POSTs events to. Each request is verified over\n' +
        'its raw body against every secret in STRIPE_WEBHOOK_SECRET (alias\n' +
        'STRIPE_WEBHOOK_KEY; a comma list while rotating), its timestamp within\n' +
        '--tolerance. A verified event is recorded (its id is unique), the payments row\n' +
        'moved and the pipeline event written to the outbox in ONE transaction before\n' +
        'the 2xx; publish-outbox delivers it to Kafka.\n' +
        'Answers: 400 bad or stale signature, or not a JSON event · 503 no secret\n' +
        'configured · 413 over --max-body · 405 other methods · 404 other paths ·\n' +
        '500 could not record (Stripe retries).\n' +
        '/healthz, /readyz (database and Kafka reachable) and /metrics are served on\n' +
        'the same port unless --metrics-port is given. Runs until SIGTERM/SIGINT, then\n' +
        'answers the requests in flight and exits.',
    )
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on; 0 picks a free one', '8080')
    .option('--path <path>', 'the webhook path', '/webhook/stripe')
    .option('--tolerance <duration>', 'accepted distance of the signature timestamp from now, either way', '300s')
    .option('--max-body <bytes>', 'largest body accepted (413 above)', String(1024 * 1024))
    .option('--pool-size <n>', 'PostgreSQL connections', '8');
  addStoreOptions(command, ['databaseUrl', 'kafkaBrokers'], { kafkaBrokers: 'Kafka bootstrap brokers, for readiness' });
  addSchemaOptions(command);
  return addOpsOptions(command, { instead: 'the webhook port' }).action(async (flags: WebhookServeFlags) => {
    const c = ctx();
    const options = await parseFlags(flags);
    const { WebhookService } = await import('../../webhook/service.js');
    const { runRole } = await import('../run-role.js');
    c.exitCode = await runRole(
      'webhook-serve',
      (registry) => new WebhookService({ ...options, opsOnWebhookPort: options.ops === undefined, registry, log: c.log }),
      {
        log: c.log,
        ops: options.ops,
        schema: options.schema,
        outageLimitMs: options.outageLimitMs,
        // While it waits for migrations the webhook port answers the probes (a fixed port only: with 0
        // the role would later bind a different one than the probes were told).
        waitingOps: options.port === 0 ? undefined : { host: options.host, port: options.port },
      },
    );
  });
}

async function parseFlags(flags: WebhookServeFlags) {
  const {
    databaseUrl,
    kafkaBrokers,
    kafkaSecurity,
    webhookSecrets,
    positiveInt,
    durationMs,
    listenPort,
    schemaGateSettings,
    outageLimitMs,
  } = await import('../../config.js');
  const { opsListener } = await import('../run-role.js');
  const path = flags.path.trim();
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(path)) {
    throw new ConfigError('--path', `--path must be a URL path starting with /, got "${flags.path}"`);
  }
  const ops = opsListener(flags);
  if (ops === undefined && OPS_PATHS.includes(path)) {
    throw new ConfigError(
      '--path',
      `--path ${path} is taken by the ops endpoints on the same port; choose another path or pass --metrics-port`,
    );
  }
  const url = databaseUrl(flags);
  return {
    databaseUrl: url,
    schema: schemaGateSettings(flags, [url]),
    brokers: kafkaBrokers(flags),
    kafkaSecurity: kafkaSecurity(flags),
    secrets: webhookSecrets(),
    host: flags.host,
    port: listenPort(flags.port, '--port'),
    path,
    toleranceSeconds: Math.floor(durationMs(flags.tolerance, '--tolerance', { min: 1000 }) / 1000),
    maxBodyBytes: positiveInt(flags.maxBody, '--max-body', { min: 1024, max: 64 * 1024 * 1024 }),
    poolSize: positiveInt(flags.poolSize, '--pool-size', { min: 2, max: 1000 }),
    ops,
    outageLimitMs: outageLimitMs(flags),
  };
}
