import { Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { collect } from '../options.js';

interface EmulatorFlags {
  host: string;
  port: string;
  webhookUrl?: string[];
  webhookSecret?: string;
  seed?: string;
  latency: string;
  latencyJitter: string;
  errorRate: string;
  errorStatus: string;
  errorAfterRunRate: string;
  resetRate: string;
  timeoutRate: string;
  timeoutHold: string;
  webhookDropRate: string;
  webhookDuplicateRate: string;
  webhookReorder?: boolean;
  webhookReorderWindow: string;
  webhookRetryInitial: string;
  webhookRetryMax: string;
  webhookMaxAttempts: string;
  webhookTimeout: string;
  rateLimit: string;
}

const HELP_AFTER = `
Faults (API faults never touch /_emulator/*; rates are 0..1; --seed makes them repeatable):
  --latency/--latency-jitter   every /v1 response waits latency + up to jitter
  --error-after-run-rate        share of those 500s sent after the request ran (the charge happened)
  --error-rate/--error-status  answer 500 api_error (saved under the Idempotency-Key, like Stripe)
                               or 429 rate_limit with Stripe-Should-Retry: true (not saved)
  --reset-rate                 run the request, then destroy the connection without a response
  --timeout-rate/--timeout-hold run the request, then hold the response (0 = never answer)
  --rate-limit                 Stripe's rate limiter: /v1 requests over N in any second answer 429 (0 = off)
  --webhook-drop-rate          never send a delivery (the event stays delivery_success=false)
  --webhook-duplicate-rate     send a delivery twice
  --webhook-reorder            deliver shuffled in groups of --webhook-reorder-window

Admin endpoints (no API key; JSON or form bodies):
  GET  /_emulator/health                         {"status":"ok"}
  GET  /_emulator/faults                         the fault settings now
  POST /_emulator/faults                         change some: {"errorRate":0.2,"errorStatus":429,"errorAfterRunRate":0,"latencyMs":50,
                                                 "latencyJitterMs":0,"resetRate":0,"timeoutRate":0,"timeoutMs":0,
                                                 "rateLimitPerSecond":0,"dropRate":0,"duplicateRate":0,"reorder":false,"reorderWindow":5,
                                                 "refuseOrders":[]}  (refuseOrders: answer 429 to every request whose
                                                 metadata.order_id / trip_id is listed, until cleared)
  GET  /_emulator/charges                        successful charges per Idempotency-Key and per order
                                                 (metadata.order_id / trip_id), totals, and "duplicates"
  GET  /_emulator/requests                       /v1 requests received, refused by the rate limit, the busiest second
  DELETE /_emulator/requests                     start counting again
  GET  /_emulator/webhooks                       webhook endpoints and every delivery's status and attempts
  GET  /_emulator/events                         every event recorded, oldest first, as webhooks carry them
  POST /_emulator/checkout/sessions/<id>/complete  outcome=paid|async_succeeded|async_failed [settleAfterMs=N]
  POST /_emulator/payment_intents/<id>/authenticate  outcome=succeeded|failed (finish 3-D Secure)
  POST /_emulator/clock                          {"advanceSeconds":3600}: move "created" time forward
  POST /_emulator/reset                          forget everything; restart the fault sequence
  GET  /checkout/<id>                            the page a Checkout Session's url opens
  GET  /receipts/<charge id>                     the page a Charge's receipt_url opens

Examples:
  paymentsctl stripe-emulator --webhook-url http://127.0.0.1:8080/webhook/stripe --webhook-secret whsec_dev
  paymentsctl stripe-emulator --port 0 --seed 42 --error-rate 0.1 --error-status 429 --webhook-duplicate-rate 0.2
  curl -s -X POST localhost:12111/_emulator/faults -H 'content-type: application/json' -d '{"resetRate":0.1}'
  curl -s -X POST localhost:12111/_emulator/checkout/sessions/cs_test_…/complete -d outcome=paid
  curl -s localhost:12111/_emulator/charges | jq .duplicates
  STRIPE_API_BASE=http://127.0.0.1:12111  — or new Stripe(key, { host: '127.0.0.1', port: 12111, protocol: 'http' })
Test cards: Stripe's test PaymentMethods, e.g. pm_card_visa, pm_card_amex (succeed), pm_card_visa_chargeDeclined,
…InsufficientFunds, …LostCard, pm_card_chargeDeclinedExpiredCard, pm_card_radarBlock (decline),
pm_card_threeDSecure2Required (3-D Secure); the README lists them all.`;

export function stripeEmulatorCommand(ctx: () => CliContext): Command {
  return new Command('stripe-emulator')
    .summary('a stateful Stripe API stand-in with signed webhooks and injectable faults')
    .description(
      'Serve the parts of the Stripe API the pipeline uses (PaymentIntents, Checkout\n' +
        'Sessions, Refunds, Events, webhook endpoints) so the official SDKs work against\n' +
        'it unchanged, with any sk_test_ key. Every state change makes an Event, POSTed\n' +
        'signed (Stripe-Signature) to each --webhook-url and registered endpoint, with\n' +
        'retries. Idempotency-Key works as Stripe documents. State lives in memory.\n' +
        'Runs until SIGTERM/SIGINT; logs go to stderr.',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on; 0 picks a free one', '12111')
    .option('--webhook-url <url>', 'POST every event here; repeat for several', collect)
    .option(
      '--webhook-secret <whsec>',
      'signing secret for --webhook-url deliveries (default: STRIPE_WEBHOOK_SECRET, else a fresh one, logged)',
    )
    .option('--seed <n>', 'seed for fault decisions (default: random, logged)')
    .option('--latency <duration>', 'added to every API response, e.g. 200ms', '0ms')
    .option('--latency-jitter <duration>', 'plus up to this much at random', '0ms')
    .option('--error-rate <0..1>', 'share of API requests answered with --error-status', '0')
    .addOption(new Option('--error-status <status>', 'status of injected errors').choices(['500', '429']).default('500'))
    .option('--error-after-run-rate <0..1>', 'share of injected 500s that come after the request did its work', '0')
    .option('--reset-rate <0..1>', 'share of API requests whose connection is destroyed after they ran', '0')
    .option('--timeout-rate <0..1>', 'share of API requests whose response is held after they ran', '0')
    .option('--timeout-hold <duration>', 'how long a held response waits; 0 = never answered', '0ms')
    .option('--rate-limit <n>', 'answer 429 to /v1 requests over this many in any second, as Stripe does; 0 = off', '0')
    .option('--webhook-drop-rate <0..1>', 'share of webhook deliveries never sent', '0')
    .option('--webhook-duplicate-rate <0..1>', 'share of webhook deliveries sent twice', '0')
    .option('--webhook-reorder', 'deliver webhooks out of order (shuffled in small groups)')
    .option('--webhook-reorder-window <n>', 'events shuffled together with --webhook-reorder', '5')
    .option('--webhook-retry-initial <duration>', 'first retry of a failed delivery after this; doubles each time', '1s')
    .option('--webhook-retry-max <duration>', 'longest wait between retries', '60s')
    .option('--webhook-max-attempts <n>', 'attempts per delivery before giving up', '8')
    .option('--webhook-timeout <duration>', 'a receiver that has not answered by then failed the attempt', '10s')
    .addHelpText('after', HELP_AFTER)
    .action(async (flags: EmulatorFlags) => {
      const c = ctx();
      const options = await parseFlags(flags);
      const { startStripeEmulator } = await import('../../stripe-emulator/index.js');
      const { runUntilSignalled } = await import('../run-role.js');
      const emulator = await startStripeEmulator({ ...options, log: c.log });
      c.log.info(
        {
          url: emulator.url,
          port: emulator.port,
          seed: emulator.seed,
          webhookUrls: options.webhookUrls,
          // A secret we generated is shown so receivers can be configured with it; one that was
          // given to us (flag or STRIPE_WEBHOOK_SECRET) is never logged.
          ...(options.webhookSecret
            ? { webhookSecretSource: flags.webhookSecret ? '--webhook-secret' : 'STRIPE_WEBHOOK_SECRET' }
            : { webhookSecret: emulator.webhookSecret }),
        },
        'stripe emulator listening',
      );
      await runUntilSignalled(() => emulator.close(), c.log);
    });
}

async function parseFlags(flags: EmulatorFlags) {
  const { positiveInt, durationMs, fraction, webhookSecrets, listenPort } = await import('../../config.js');
  const { registerSecret } = await import('../../redact.js');
  const webhookSecret = flags.webhookSecret ?? webhookSecrets()[0];
  registerSecret(webhookSecret);
  return {
    host: flags.host,
    port: listenPort(flags.port, '--port'),
    webhookUrls: flags.webhookUrl ?? [],
    webhookSecret,
    seed: flags.seed === undefined ? undefined : positiveInt(flags.seed, '--seed', { min: 0, max: 2 ** 32 - 1 }),
    faults: {
      latencyMs: durationMs(flags.latency, '--latency'),
      latencyJitterMs: durationMs(flags.latencyJitter, '--latency-jitter'),
      errorRate: fraction(flags.errorRate, '--error-rate'),
      errorStatus: Number(flags.errorStatus) as 500 | 429,
      errorAfterRunRate: fraction(flags.errorAfterRunRate, '--error-after-run-rate'),
      resetRate: fraction(flags.resetRate, '--reset-rate'),
      timeoutRate: fraction(flags.timeoutRate, '--timeout-rate'),
      timeoutMs: durationMs(flags.timeoutHold, '--timeout-hold'),
      rateLimitPerSecond: positiveInt(flags.rateLimit, '--rate-limit', { min: 0, max: 10_000 }),
      dropRate: fraction(flags.webhookDropRate, '--webhook-drop-rate'),
      duplicateRate: fraction(flags.webhookDuplicateRate, '--webhook-duplicate-rate'),
      reorder: Boolean(flags.webhookReorder),
      reorderWindow: positiveInt(flags.webhookReorderWindow, '--webhook-reorder-window', { min: 2, max: 100 }),
    },
    webhookRetry: {
      initialDelayMs: durationMs(flags.webhookRetryInitial, '--webhook-retry-initial'),
      maxDelayMs: durationMs(flags.webhookRetryMax, '--webhook-retry-max'),
      maxAttempts: positiveInt(flags.webhookMaxAttempts, '--webhook-max-attempts', { max: 100 }),
      timeoutMs: durationMs(flags.webhookTimeout, '--webhook-timeout'),
    },
  };
}
