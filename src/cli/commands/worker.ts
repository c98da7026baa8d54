import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { ConfigError, ExitCode } from '../../errors.js';

interface WorkerFlags {
  handlers: string;
  group?: string;
  concurrency: string;
  retryDelays: string;
  checkoutSuccessUrl: string;
  checkoutCancelUrl: string;
  inboxRetain: string;
  stripeTimeout: string;
  sessionTimeout: string;
  databaseUrl?: string;
  brokers?: string;
  topicPrefix?: string;
  metricsHost: string;
  metricsPort: string;
}

const ALL_HANDLERS = 'payments,checkout,saga';

export function workerCommand(ctx: () => CliContext): Command {
  return new Command('worker')
    .summary('consume orders and commands, charge through Stripe, record results, compensate')
    .description(
      'Consume the pipeline in one Kafka consumer group shared by every replica:\n' +
        '  payments  orders.placed → PaymentIntent (key pi:<order_id>) → payments.completed | payments.failed\n' +
        '  checkout  checkout.requested → Checkout Session (key cs:<trip_id>) → payments.checkout_session_created\n' +
        '  saga      payments.failed → orders.cancelled; orders.cancelled after payment → refund (key re:<id>) → payments.refunded\n' +
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
    .option('--session-timeout <duration>', 'Kafka group session timeout: how soon a dead replica’s partitions move', '30s')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .option('--brokers <list>', 'Kafka brokers (default: KAFKA_BROKERS)')
    .option('--topic-prefix <prefix>', 'prefix of every Kafka topic name (default: KAFKA_TOPIC_PREFIX)')
    .option('--metrics-host <host>', 'address for /healthz, /readyz, /metrics', '0.0.0.0')
    .option('--metrics-port <port>', 'port for /healthz, /readyz, /metrics; 0 picks a free one', '9465')
    .action(async (flags: WorkerFlags) => {
      const c = ctx();
      const { databaseUrl, kafkaBrokers, topicPrefix, positiveInt, durationMs } = await import('../../config.js');
      const { HANDLER_NAMES } = await import('../../worker/handler.js');
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
      const retryDelaysMs = flags.retryDelays.split(',').map((d) => durationMs(d.trim(), '--retry-delays'));
      const prefix = topicPrefix(flags);
      const subset = handlers.length < HANDLER_NAMES.length ? `-${[...handlers].sort().join('-')}` : '';
      const options = {
        databaseUrl: databaseUrl(flags),
        brokers: kafkaBrokers(flags),
        topicPrefix: prefix,
        handlers: handlers as (typeof HANDLER_NAMES)[number][],
        // Members of one group must consume the same topics: a subset of handlers gets its own group.
        groupId: flags.group ?? `${prefix}paymentsctl-worker${subset}`,
        concurrency: positiveInt(flags.concurrency, '--concurrency', { max: 1000 }),
        retryDelaysMs,
        checkoutUrls: {
          successUrl: checkUrl(flags.checkoutSuccessUrl, '--checkout-success-url'),
          cancelUrl: checkUrl(flags.checkoutCancelUrl, '--checkout-cancel-url'),
        },
        inboxRetainMs: durationMs(flags.inboxRetain, '--inbox-retain'),
        sessionTimeoutMs: durationMs(flags.sessionTimeout, '--session-timeout', { min: 6000 }),
        metricsPort: positiveInt(flags.metricsPort, '--metrics-port', { min: 0, max: 65535 }),
      };
      const { stripeGatewayFromConfig } = await import('../../stripe/index.js');
      const gateway = stripeGatewayFromConfig(flags, process.env, {
        timeoutMs: durationMs(flags.stripeTimeout, '--stripe-timeout', { min: 100 }),
      });
      const { PaymentsWorker } = await import('../../worker/worker.js');
      const { createRegistry } = await import('../../metrics.js');
      const { startOpsServer } = await import('../../http/ops-server.js');
      const { runUntilSignalled } = await import('../run-role.js');

      const registry = createRegistry('worker');
      const worker = new PaymentsWorker({ ...options, gateway, registry, log: c.log });
      // Health answers while the worker joins its group; readiness waits for it.
      const ops = await startOpsServer({
        host: flags.metricsHost,
        port: options.metricsPort,
        registry,
        ready: () => worker.isReady(),
        log: c.log,
      });
      try {
        await worker.start();
      } catch (error) {
        await worker.stop().catch(() => undefined);
        await ops.server.close();
        throw error;
      }
      c.log.info(
        {
          handlers,
          group: options.groupId,
          topics: worker.topics().consumed,
          concurrency: options.concurrency,
          retryDelaysMs,
          metricsPort: ops.port,
        },
        'worker started',
      );
      let failed = false;
      worker.onFailure(() => {
        failed = true;
        process.kill(process.pid, 'SIGTERM');
      });
      const signal = await runUntilSignalled(async () => {
        await worker.stop();
        await ops.server.close();
      }, c.log);
      if (failed) c.exitCode = ExitCode.unavailable;
      else if (signal === 'SIGINT') c.exitCode = ExitCode.interrupted;
    });
}

function checkUrl(value: string, flag: string): string {
  try {
    new URL(value);
    return value;
  } catch {
    throw new ConfigError(flag, `${flag} must be an absolute URL, got "${value}"`);
  }
}
