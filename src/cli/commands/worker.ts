import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addOpsOptions, addSchemaOptions, addStoreOptions, type OpsFlags, type SchemaFlags, type StoreFlags } from '../options.js';
import { ConfigError } from '../../errors.js';

interface WorkerFlags extends StoreFlags, OpsFlags, SchemaFlags {
  handlers: string;
  group?: string;
  concurrency: string;
  retryDelays: string;
  checkoutSuccessUrl: string;
  checkoutCancelUrl: string;
  inboxRetain: string;
  stripeTimeout: string;
  sessionTimeout: string;
}

const ALL_HANDLERS = 'payments,checkout,saga,history';

export function workerCommand(ctx: () => CliContext): Command {
  const command = new Command('worker')
    .summary('consume orders and commands, charge through Stripe, record results, compensate')
    .description(
      'Consume the pipeline in one Kafka consumer group shared by every replica:\n' +
        '  payments  orders.placed → PaymentIntent (key pi:<order_id>) → payments.completed | payments.failed\n' +
        '  checkout  checkout.requested → Checkout Session (key cs:<trip_id>) → payments.checkout_session_created\n' +
        '  saga      payments.failed → orders.cancelled; orders.cancelled after payment → refund (key re:<id>) → payments.refunded\n' +
        '  history   payments.completed / .refunded / .failed → the user’s transactions (charge / refund / failed)\n' +
        'Each message is applied once (inbox in processed_messages); its payments row, its outgoing event\n' +
        '(outbox) and its inbox row commit in one transaction before the offset is committed. A Stripe\n' +
        'outage or timeout sends the message to <topic>.retry.<n>, processed once due; after the last\n' +
        'delay, or at once for a message that cannot be parsed, it goes to <topic>.dlq with headers\n' +
        'saying why. A decline is a result, never retried. Stripe settings: STRIPE_API_KEY, STRIPE_API_BASE.\n' +
        'Runs until SIGTERM/SIGINT, then finishes the messages in flight and commits their offsets.',
    )
    .option('--handlers <list>', `which handlers to run, comma separated (${ALL_HANDLERS})`, ALL_HANDLERS)
    .option(
      '--group <id>',
      'consumer group (default: paymentsctl-worker, with the topic prefix and, for a subset of handlers, their names)',
    )
    .option('--concurrency <n>', 'messages handled at once (one key’s messages stay in order)', '32')
    .option('--retry-delays <list>', 'broker-level retry schedule: one delay per retry topic', '1s,4s,16s')
    .option(
      '--checkout-success-url <url>',
      'where Stripe sends the rider after paying ({CHECKOUT_SESSION_ID} is filled in)',
      'http://localhost:3000/checkout/success?session_id={CHECKOUT_SESSION_ID}',
    )
    .option('--checkout-cancel-url <url>', 'where Stripe sends the rider who backs out', 'http://localhost:3000/checkout/cancel')
    .option(
      '--inbox-retain <duration>',
      'forget processed message ids older than this (keep it longer than Kafka retention); 0 keeps them',
      '14d',
    )
    .option('--stripe-timeout <duration>', 'give up on a Stripe request after this (the SDK then retries twice with the same key)', '20s')
    .option('--session-timeout <duration>', 'Kafka group session timeout: how soon a dead replica’s partitions move', '30s');
  addStoreOptions(command, undefined, { topicPrefix: 'prefix of every Kafka topic name' });
  addSchemaOptions(command);
  return addOpsOptions(command, 9465).action(async (flags: WorkerFlags) => {
    const c = ctx();
    const options = await parseFlags(flags);
    const { PaymentsWorker } = await import('../../worker/worker.js');
    const { runRole } = await import('../run-role.js');
    const { describeSecurity } = await import('../../kafka/security.js');
    c.exitCode = await runRole('worker', (registry) => new PaymentsWorker({ ...options, registry, log: c.log }), {
      log: c.log,
      ops: options.ops,
      schema: options.schema,
      outageLimitMs: options.outageLimitMs,
      describe: (worker) => ({
        handlers: options.handlers,
        group: options.groupId,
        topics: worker.topics().consumed,
        concurrency: options.concurrency,
        retryDelaysMs: options.retryDelaysMs,
        kafka: describeSecurity(options.kafkaSecurity),
      }),
    });
  });
}

async function parseFlags(flags: WorkerFlags) {
  const { databaseUrl, kafkaBrokers, kafkaSecurity, topicPrefix, positiveInt, durationMs, schemaGateSettings, outageLimitMs } =
    await import('../../config.js');
  const { HANDLER_NAMES } = await import('../../worker/handler.js');
  const { opsListener } = await import('../run-role.js');
  const handlers = [
    ...new Set(
      flags.handlers
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = handlers.filter((h) => !(HANDLER_NAMES as readonly string[]).includes(h));
  if (handlers.length === 0 || unknown.length) {
    throw new ConfigError(
      '--handlers',
      `--handlers takes a comma list of ${ALL_HANDLERS}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`,
    );
  }
  const prefix = topicPrefix(flags);
  const subset = handlers.length < HANDLER_NAMES.length ? `-${[...handlers].sort().join('-')}` : '';
  const url = databaseUrl(flags);
  const options = {
    databaseUrl: url,
    schema: schemaGateSettings(flags, [url]),
    brokers: kafkaBrokers(flags),
    kafkaSecurity: kafkaSecurity(flags),
    topicPrefix: prefix,
    handlers: handlers as (typeof HANDLER_NAMES)[number][],
    // Members of one group must consume the same topics: a subset of handlers gets its own group.
    groupId: flags.group ?? `${prefix}paymentsctl-worker${subset}`,
    concurrency: positiveInt(flags.concurrency, '--concurrency', { max: 1000 }),
    retryDelaysMs: flags.retryDelays.split(',').map((d) => durationMs(d.trim(), '--retry-delays')),
    checkoutUrls: {
      successUrl: checkUrl(flags.checkoutSuccessUrl, '--checkout-success-url'),
      cancelUrl: checkUrl(flags.checkoutCancelUrl, '--checkout-cancel-url'),
    },
    inboxRetainMs: durationMs(flags.inboxRetain, '--inbox-retain'),
    sessionTimeoutMs: durationMs(flags.sessionTimeout, '--session-timeout', { min: 6000 }),
    ops: opsListener(flags),
    outageLimitMs: outageLimitMs(flags),
  };
  const { stripeGatewayFromConfig } = await import('../../stripe/index.js');
  const gateway = stripeGatewayFromConfig(flags, process.env, {
    timeoutMs: durationMs(flags.stripeTimeout, '--stripe-timeout', { min: 100 }),
  });
  return { ...options, gateway };
}

function checkUrl(value: string, flag: string): string {
  try {
    new URL(value);
    return value;
  } catch {
    throw new ConfigError(flag, `${flag} must be an absolute URL, got "${value}"`);
  }
}
