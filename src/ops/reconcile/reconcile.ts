import Stripe from 'stripe';
import { createPool, describeTarget } from '../../db/connect.js';
import { ConfigError, errorMessage, InterruptedError, OperationError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { compareAggregate, DISCREPANCY_CODES, type Discrepancy, type DiscrepancyCode } from '../../payments/decisions/reconcile.js';
import { createStripeClient } from '../../stripe/client.js';
import { StripeGatewayError } from '../../stripe/errors.js';
import { StripeReconcileReader } from '../../stripe/listing.js';
import { RateLimitedHttpClient } from '../../stripe/rate-limit.js';
import { collectDay, type DayCounts } from './collect.js';
import { finishDay, finishRun, oldestPayment, openRun } from './progress.js';
import { repair, type RepairOutcome } from './repair.js';
import { daysOf, resolveWindow } from './window.js';
import { requireCurrentSchema } from '../../migrate/schema-gate.js';

/**
 * `paymentsctl reconcile`: the payments table against Stripe for a created-time window, walked
 * one UTC day at a time (resumable), every disagreement reported with a stable code — and, with
 * `fix` and `execute`, repaired through the outbox as the pipeline would have.
 */

export interface ReconcileOptions {
  databaseUrl: string;
  stripe: { apiKey: string; apiBase?: string };
  window: { since?: string; until?: string; all?: boolean };
  fix: boolean;
  execute: boolean;
  refundDuplicates: boolean;
  /** Stripe requests per second at most */
  ratePerSecond: number;
  pageSize?: number;
  staleAfterMs: number;
  /** start over instead of resuming an unfinished run of the same window */
  restart?: boolean;
  /** only these aggregates (dev: its own run's orders) */
  accept?: (aggregateId: string) => boolean;
  log: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  onProgress?: (progress: ReconcileProgress) => void;
}

export interface ReconcileProgress {
  day: number;
  days: number;
  dayStart: string;
  counts: DayCounts;
  found: number;
}

export type CodeSummary = { found: number; fixed: number; remaining: number };

export interface ReconcileReport {
  mode: 'check' | 'plan' | 'execute';
  window: { since: string; until: string; days: number; resumedDays: number };
  refundDuplicates: boolean;
  stripe: { paymentIntents: number; checkoutSessions: number; refunds: number; retrieved: number; requests: number; rateLimited: number };
  rows: number;
  summary: Record<DiscrepancyCode, CodeSummary>;
  totals: { found: number; fixable: number; fixed: number; remaining: number };
  discrepancies: (Discrepancy & { repair?: RepairOutcome })[];
  notes: string[];
  /** 0 in agreement; 1 discrepancies remain */
  exitCode: 0 | 1;
}

const SOURCE = 'paymentsctl/reconcile';

/** Whether a repair leaves its discrepancy resolved. */
function resolved(outcome: RepairOutcome | undefined): boolean {
  return outcome !== undefined && ['repaired', 'already_repaired', 'refunded_duplicate'].includes(outcome.result);
}

export async function runReconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  await requireCurrentSchema(options.databaseUrl, options.log);
  const now = options.now?.() ?? new Date();
  const mode: ReconcileReport['mode'] = options.execute && options.fix ? 'execute' : options.fix ? 'plan' : 'check';
  const http = new RateLimitedHttpClient(Stripe.createNodeHttpClient(), { perSecond: options.ratePerSecond });
  const reader = new StripeReconcileReader(
    createStripeClient({ ...options.stripe, httpClient: http, timeoutMs: 30_000, maxNetworkRetries: 3 }),
    options.pageSize ?? 100,
  );
  const pool = createPool(options.databaseUrl, { max: 4, applicationName: 'paymentsctl-reconcile' });
  try {
    const oldest = options.window.all ? await reachable(options.databaseUrl, () => oldestPayment(pool)) : undefined;
    const window = resolveWindow(options.window, now, () => oldest);
    const runMode = `${mode}${options.refundDuplicates ? '+refund-duplicates' : ''}`;
    if (options.restart) {
      await reachable(options.databaseUrl, () =>
        pool.query('UPDATE reconcile_runs SET finished_at = now() WHERE window_spec = $1 AND mode = $2 AND finished_at IS NULL', [
          window.spec,
          runMode,
        ]),
      );
    }
    const run = await reachable(options.databaseUrl, () => openRun(pool, window.spec, runMode, window.since, window.until));
    if (run.resumed)
      options.log.info({ since: run.since, until: run.until, daysDone: run.days.size }, 'resuming an unfinished reconcile run');
    const days = daysOf({ since: run.since, until: run.until });
    const totals = { paymentIntents: 0, checkoutSessions: 0, refunds: 0, retrieved: 0, rows: 0 };
    const found: Discrepancy[] = [];
    const repairs: RepairOutcome[] = [];
    let resumedDays = 0;
    for (const [index, day] of days.entries()) {
      if (options.signal?.aborted) break;
      const done = run.days.get(day.from.getTime());
      if (done) {
        resumedDays++;
        found.push(...done.discrepancies);
        repairs.push(...done.repairs);
        continue;
      }
      const progress = (counts: DayCounts) =>
        options.onProgress?.({ day: index + 1, days: days.length, dayStart: day.from.toISOString(), counts, found: found.length });
      const { facts, counts } = await stripeReachable(() => collectDay(pool, reader, day, { accept: options.accept, onItem: progress }));
      for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += counts[key];
      const dayFound = facts.flatMap((aggregate) =>
        compareAggregate(aggregate, { now: now.getTime(), staleAfterMs: options.staleAfterMs }),
      );
      const dayRepairs: RepairOutcome[] = [];
      if (mode === 'execute') {
        for (const item of dayFound) {
          if (item.fix.action === 'none') continue;
          const outcome = await repair(pool, reader, item, { refundDuplicates: options.refundDuplicates, source: SOURCE });
          if (outcome.result === 'failed')
            options.log.warn({ aggregateId: item.aggregateId, code: item.code, err: outcome.error }, 'repair failed');
          dayRepairs.push(outcome);
        }
      }
      found.push(...dayFound);
      repairs.push(...dayRepairs);
      progress(counts);
      await finishDay(pool, run.id, day.from, dayFound, dayRepairs);
    }
    const interrupted = options.signal?.aborted ?? false;
    if (interrupted) {
      throw new InterruptedError('interrupted; the days already walked are saved', {
        hint: 'run the same command again to resume with the next day',
      });
    }
    await finishRun(pool, run.id);
    const report = buildReport({
      mode,
      window: { since: run.since, until: run.until, days: days.length, resumedDays },
      found,
      repairs,
      options,
    });
    report.stripe = { ...report.stripe, ...totals, requests: http.stats.requests, rateLimited: http.stats.rateLimited };
    report.rows = totals.rows;
    return report;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function buildReport(input: {
  mode: ReconcileReport['mode'];
  window: { since: Date; until: Date; days: number; resumedDays: number };
  found: Discrepancy[];
  repairs: RepairOutcome[];
  options: ReconcileOptions;
}): ReconcileReport {
  // A row seen on two days (its Stripe object made on another day) is one discrepancy, reported once.
  const unique = new Map<string, Discrepancy>();
  for (const item of input.found) unique.set(`${item.code}\n${item.aggregateId}`, item);
  const repairOf = new Map(input.repairs.map((outcome) => [`${outcome.code}\n${outcome.aggregateId}`, outcome]));
  const summary = Object.fromEntries(DISCREPANCY_CODES.map((code) => [code, { found: 0, fixed: 0, remaining: 0 }])) as Record<
    DiscrepancyCode,
    CodeSummary
  >;
  const discrepancies: ReconcileReport['discrepancies'] = [];
  let fixable = 0;
  for (const [key, item] of unique) {
    const outcome = repairOf.get(key);
    const fixed = resolved(outcome);
    summary[item.code].found++;
    if (fixed) summary[item.code].fixed++;
    else summary[item.code].remaining++;
    if (item.fix.action === 'record_outcome' || (item.fix.action === 'refund_duplicates' && input.options.refundDuplicates)) fixable++;
    discrepancies.push({ ...item, ...(outcome ? { repair: outcome } : {}) });
  }
  const totals = {
    found: unique.size,
    fixable,
    fixed: Object.values(summary).reduce((sum, code) => sum + code.fixed, 0),
    remaining: Object.values(summary).reduce((sum, code) => sum + code.remaining, 0),
  };
  const notes: string[] = [];
  const doubles = summary.double_charge;
  if (doubles.found > 0 && !input.options.refundDuplicates) {
    notes.push(
      `double_charge: ${doubles.found} not refunded — refunds only with --refund-duplicates (idempotency key re:dup:<payment_intent>)`,
    );
  }
  if (input.mode === 'check' && fixable > 0) notes.push(`${fixable} can be repaired: --fix shows the plan, --fix --execute repairs`);
  if (input.mode === 'plan' && fixable > 0) notes.push(`dry run: ${fixable} repairs planned; add --execute to make them`);
  const failed = input.repairs.filter((outcome) => outcome.result === 'failed').length;
  if (failed > 0) notes.push(`${failed} repairs failed (see the log); they are retried on the next run`);
  return {
    mode: input.mode,
    window: {
      since: input.window.since.toISOString(),
      until: input.window.until.toISOString(),
      days: input.window.days,
      resumedDays: input.window.resumedDays,
    },
    refundDuplicates: input.options.refundDuplicates,
    stripe: { paymentIntents: 0, checkoutSessions: 0, refunds: 0, retrieved: 0, requests: 0, rateLimited: 0 },
    rows: 0,
    summary,
    totals,
    discrepancies,
    notes,
    exitCode: totals.remaining > 0 ? 1 : 0,
  };
}

/** A database that cannot be reached is exit 3, with where it was looked for. */
async function reachable<T>(url: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code === '42P01') {
      throw new OperationError(`the reconcile tables are missing in ${describeTarget(url)}: ${errorMessage(error)}`, {
        hint: 'apply the migrations first: paymentsctl migrate',
        cause: error,
      });
    }
    if (
      ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '57P03', '3D000', '28P01'].includes(code) ||
      /timeout|connect/i.test(errorMessage(error))
    ) {
      throw new UnavailableError(`cannot reach PostgreSQL at ${describeTarget(url)}: ${errorMessage(error)}`, {
        hint: 'check DATABASE_URL and that the database is up and migrated (paymentsctl migrate)',
        cause: error,
      });
    }
    throw error;
  }
}

/** Stripe unreachable (after the SDK's retries and the 429 back-off) is exit 3 as well. */
async function stripeReachable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StripeGatewayError && error.kind === 'retryable') {
      throw new UnavailableError(`Stripe did not answer: ${error.message}`, {
        hint: 'the days already walked are saved; run the same command again to resume',
        cause: error,
      });
    }
    if (error instanceof StripeGatewayError && error.details.statusCode === 401) {
      throw new ConfigError('STRIPE_API_KEY', `Stripe refused the key: ${error.message}`, {
        hint: 'set STRIPE_API_KEY to a key that can read PaymentIntents, Checkout Sessions and Refunds',
      });
    }
    throw error;
  }
}
