import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import { abortableSleep } from '../backoff.js';
import { createPool, databaseName } from '../db/connect.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { formatMs } from '../outage.js';
import { errorMessage, InterruptedError, OperationError } from '../errors.js';
import type { Logger } from '../log.js';
import { compensations, emptyOutcomes, paymentStatuses } from '../ops/pipeline-reads.js';
import { isTerminal, PAYMENT_STATUSES } from '../payments/status.js';
import { SeededRandom } from '../random.js';
import { freePort } from '../stack/ports.js';
import { DEFAULT_FAULTS, type FaultConfig } from '../stripe-emulator/faults.js';
import { ChaosMonkey, CHAOS_FAULTS, CHAOS_STRIPE_TIMEOUT } from './chaos.js';
import { CheckoutCustomers } from './customer.js';
import { InfraChaos } from './infra-chaos.js';
import { prepareEnvironment, roleVariables, teardownEnvironment, type DevEnvironment } from './environment.js';
import { chargeAndRefundUsers } from '../payments/transactions.js';
import { checkInvariants, ownersOf } from './invariants.js';
import { mergeReconciliations, reconcileRun, reconciliationCheck } from './reconcile-step.js';
import { planOrders, type PlannedOrder } from './plan.js';
import { PipelineProbe, type PipelineFacts } from './probe.js';
import { RestartingCounter, sumSamples } from './prometheus.js';
import { RoleStartError, SupervisedRole } from './roles.js';
import { committedOrders, createShopTable, placeOrders } from './shop.js';
import { stopPostgresCommand, type ManagedPostgres } from '../stack/postgres.js';
import { chooseRefusedOrders, describeIncident, incidentCheck, incidentFaults } from './incident.js';
import type {
  DevIncident,
  DevPhase,
  DevReconciliation,
  DevSnapshot,
  DevSummary,
  InvariantCheck,
  RoleName,
  StageSnapshot,
} from './types.js';

export interface DevOptions {
  orders: number;
  /** orders per second; 0 = as fast as possible */
  ratePerSecond: number;
  declineRate: number;
  checkoutShare: number;
  chaos: boolean;
  /** also restart PostgreSQL (the run's own cluster) and SIGKILL/restart the stack's Kafka broker */
  chaosInfra?: boolean;
  keep: boolean;
  /**
   * stage an incident for the operator instead of healing the run: a few payments dead-lettered
   * while Stripe refused them, a share of webhooks dropped, no reconciliation; the pipeline is kept
   */
  incident?: boolean;
  seed: number;
  /** give up waiting when nothing has moved for this long */
  stallTimeoutMs: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** aborted by SIGINT/SIGTERM: stop everything, clean up, and throw InterruptedError */
  signal: AbortSignal;
  onStep?: (text: string) => void;
  onSnapshot?: (snapshot: DevSnapshot) => void;
  /** the verdict, as soon as it is known (before cleanup, which can take a few seconds) */
  onSummary?: (summary: DevSummary) => void;
  /** with --keep and a passing run: resolves when the person is done with the running pipeline */
  holdOpen?: (variables: Record<string, string>, incident?: DevIncident) => Promise<void>;
  /** --incident, while the pipeline is kept: every check holds again over every order */
  onHealed?: (checks: InvariantCheck[]) => void;
}

const TICK_MS = 500;
/** quiet ticks in a row before the pipeline counts as drained */
const QUIET_TICKS = 3;
/** idle ticks in a row (nothing moving, nothing in flight) before unsettled orders count as lost webhooks */
const IDLE_TICKS = 6;
/** how many times reconciliation may run while orders are still unsettled after it */
const RECONCILE_PASSES = 3;
const PARTITIONS = 3;
const RECENT_LINES = 5;
/** how often a kept --incident run looks whether the operator has healed it */
const HEAL_LOOK_MS = 2_000;

function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/** Runs the whole pipeline on the local stack, drives orders through it, and checks the money invariants. */
export async function runDev(options: DevOptions): Promise<DevSummary> {
  const runId = newRunId();
  const step = options.onStep ?? (() => undefined);
  const dev = await prepareEnvironment({
    runId,
    partitions: PARTITIONS,
    env: options.env,
    log: options.log,
    step,
    chaosInfra: options.chaosInfra ?? false,
  });
  const run = new DevRun(dev, options);
  let keepData = false;
  try {
    const summary = await run.execute();
    keepData = !summary.ok || options.keep;
    return summary;
  } catch (error) {
    if (error instanceof RoleStartError) {
      // Its logs are the only way to see why; the run's database and topics stay with them.
      keepData = true;
      throw new OperationError(error.message, {
        hint: `role logs are in ${dev.runDir}; the run's database ${databaseName(dev.databaseUrl)} and topics ${dev.topicPrefix}* are kept (paymentsctl stack down removes the stack)`,
      });
    }
    throw error;
  } finally {
    await run.stopRoles();
    await run.close();
    if (!keepData) await teardownEnvironment(dev, { env: options.env, log: options.log, workerGroup: run.workerGroup });
  }
}

class DevRun {
  readonly workerGroup: string;
  private readonly pool: pg.Pool;
  private readonly plan: PlannedOrder[];
  private readonly roles: SupervisedRole[] = [];
  private readonly probe: PipelineProbe;
  private readonly recent: string[] = [];
  private readonly duplicates = { worker: new RestartingCounter(), webhook: new RestartingCounter() };
  private readonly history: { at: number; placed: number; published: number; settled: number; webhooks: number }[] = [];
  private readonly startedAt = Date.now();
  private readonly stop = new AbortController();
  private phase: DevPhase = 'placing';
  private placed = 0;
  private firstPlacedAt?: number;
  private settledAt?: number;
  private latest?: PipelineFacts;
  private probeError?: { since: number; unreachable: 'database' | 'Kafka' | undefined };
  private infraChaos?: InfraChaos;
  private reconciliation?: DevReconciliation;
  /** --incident: the orders Stripe refuses until their payments are dead-lettered */
  private readonly refused: string[];
  /** --incident: how many orders the staged incident left unsettled */
  private leftUnsettled = 0;

  constructor(
    private readonly dev: DevEnvironment,
    private readonly options: DevOptions,
  ) {
    this.workerGroup = `${dev.topicPrefix}paymentsctl-worker`;
    this.pool = createPool(dev.databaseUrl, { max: 12, applicationName: 'paymentsctl-dev', log: options.log });
    this.plan = planOrders({
      count: options.orders,
      declineRate: options.declineRate,
      checkoutShare: options.checkoutShare,
      seed: options.seed,
      runId: dev.runId,
    });
    this.refused = options.incident ? chooseRefusedOrders(this.plan, options.seed) : [];
    this.probe = new PipelineProbe(this.pool, {
      brokers: dev.brokers,
      topicPrefix: dev.topicPrefix,
      workerGroup: this.workerGroup,
      orderIds: this.plan.map((order) => order.aggregateId),
      log: options.log,
    });
  }

  async execute(): Promise<DevSummary> {
    const { options, dev } = this;
    const interrupted = options.signal;
    interrupted.addEventListener('abort', () => this.stop.abort(), { once: true });
    await createShopTable(this.pool);
    options.onStep?.('starting publish-outbox, worker and webhook-serve');
    await this.startRoles();
    const monitor = this.monitor();
    let customersDone: Promise<void> = Promise.resolve();
    try {
      let restoreFaults: FaultConfig | undefined;
      let chaos: ChaosMonkey | undefined;
      let infraChaos: InfraChaos | undefined;
      try {
        // Explicit faults either way: a reused emulator may have been left with some.
        restoreFaults = await dev.emulator.faults();
        await dev.emulator.setFaults(options.chaos ? CHAOS_FAULTS : options.incident ? incidentFaults(this.refused) : DEFAULT_FAULTS);
        if (options.incident)
          this.note(`incident staged: Stripe refuses ${this.refused.length} orders (429) and the emulator drops a share of webhooks`);
        if (options.chaos) {
          this.note('emulator faults on: 500s (stored), resets, held responses, duplicate, reordered and dropped webhooks');
          chaos = new ChaosMonkey(this.roles, new SeededRandom(options.seed ^ 0x5eed));
          chaos.start();
        }
        if (dev.ownPostgres) {
          this.note('infra chaos on: PostgreSQL restarts and Kafka broker kills during the run');
          infraChaos = new InfraChaos({
            postgres: dev.ownPostgres,
            env: options.env,
            random: new SeededRandom(options.seed ^ 0x1f7a),
            log: options.log,
            note: (line) => this.note(line),
          });
          this.infraChaos = infraChaos;
          infraChaos.start();
        }
        customersDone = new CheckoutCustomers(this.pool, dev.emulator, this.plan, options.log).run(this.stop.signal);
        await placeOrders(this.pool, this.plan, {
          ratePerSecond: options.ratePerSecond,
          concurrency: 8,
          signal: this.stop.signal,
          onPlaced: () => {
            this.firstPlacedAt ??= Date.now();
            this.placed++;
          },
        });
        this.phase = 'draining';
        await this.untilSettledOrIdle(customersDone);
      } finally {
        if (infraChaos) {
          await infraChaos.stop();
          const { postgres, kafka } = infraChaos.restarts;
          this.note(`infra chaos over: ${postgres} PostgreSQL restarts, ${kafka} broker restarts`);
        }
        if (chaos) {
          await chaos.stop();
          this.note('chaos over: every role runs again, emulator faults off');
        }
        if (restoreFaults)
          await dev.emulator
            .setFaults(restoreFaults)
            .catch((error: unknown) => options.log.warn({ err: errorMessage(error) }, 'could not restore the emulator faults'));
      }
      await Promise.all(this.roles.map((role) => role.waitUntilReady({ signal: interrupted })));
      if (options.incident) {
        // The cause is gone (Stripe serves those orders again, delivers every webhook); what it
        // left stays for the operator, and nothing in the run heals it.
        this.leftUnsettled = this.latest ? this.plan.length - this.settledCount(this.latest) : 0;
        this.note(`incident over: ${this.leftUnsettled} orders left unsettled for the operator to heal; Stripe serves every order again`);
      }
      // A delayed Checkout payment can still be settling at the emulator when the run goes idle (not
      // final at Stripe, so nothing to reconcile yet) and its late webhook can be dropped too: once
      // reconciled, a run that is still unsettled waits to go idle again and reconciles once more.
      // An incident is the operator's to heal: no reconciliation then.
      const passes = options.incident ? 0 : RECONCILE_PASSES;
      for (let pass = 1; pass <= passes; pass++) {
        this.note(`reconciling the run with Stripe (reconcile --fix --execute${pass > 1 ? `, pass ${pass}` : ''})`);
        const result = await reconcileRun(dev, this.startedAt, options.log, interrupted).catch((error: unknown) => {
          if (interrupted.aborted) throw error;
          this.note(`reconcile failed: ${errorMessage(error)}`);
          return undefined;
        });
        if (result) this.reconciliation = mergeReconciliations(this.reconciliation, result);
        if (!result || pass === passes || (await this.untilSettledOrIdle(Promise.resolve()))) break;
      }
      if (this.reconciliation)
        this.note(`reconcile: ${this.reconciliation.found} discrepancies, ${this.reconciliation.healed} outcomes healed`);
      // Drained: everything settled and compensated, nothing left to publish or consume, for a few looks in a row.
      let quiet = 0;
      let seen: PipelineFacts | undefined;
      await this.waitFor((facts) => {
        if (facts !== seen) {
          seen = facts;
          const drained =
            this.settledCount(facts) >= this.plan.length - this.leftUnsettled &&
            facts.compensated >= facts.outcomes.failed &&
            facts.outboxBacklog === 0 &&
            facts.consumerLag === 0;
          quiet = drained ? quiet + 1 : 0;
        }
        return quiet >= QUIET_TICKS;
      });
    } finally {
      this.stop.abort();
      await customersDone;
      await monitor;
    }
    if (interrupted.aborted) throw new InterruptedError('interrupted; the run was abandoned and its data removed');

    this.phase = 'checking';
    const summary = await this.summarize();
    this.phase = 'done';
    this.emit();
    options.onSummary?.(summary);
    if (summary.ok && options.keep && options.holdOpen) {
      const watching = new AbortController();
      const healing = summary.incident ? this.watchHealing(summary.incident, watching.signal) : Promise.resolve();
      try {
        await options.holdOpen(roleVariables(dev), summary.incident);
      } finally {
        watching.abort();
        await healing;
      }
    }
    return summary;
  }

  /** While the pipeline is kept: marks the incident healed once every check holds over every order. */
  private async watchHealing(incident: DevIncident, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await abortableSleep(HEAL_LOOK_MS, [signal]);
      if (signal.aborted) return;
      try {
        const { checks } = this.judge(await this.evidence({ deliveries: false }), { healing: true });
        if (checks.every((c) => c.ok)) {
          incident.healed = true;
          this.options.onHealed?.(checks);
          return;
        }
      } catch (error) {
        this.options.log.debug({ err: errorMessage(error) }, 'could not look whether the incident is healed');
      }
    }
  }

  async stopRoles(): Promise<void> {
    await Promise.all(this.roles.map((role) => role.stop()));
  }

  async close(): Promise<void> {
    await this.probe.close();
    await this.pool.end().catch(() => undefined);
  }

  private async startRoles(): Promise<void> {
    const { dev, options } = this;
    const env = { ...roleVariables(dev), LOG_LEVEL: 'info' };
    const [publisherPort, workerPort] = await Promise.all([freePort(), freePort()]);
    const ops = (port: number) => ['--metrics-host', '127.0.0.1', '--metrics-port', String(port)];
    const specs: { name: RoleName; argv: string[]; opsPort: number }[] = [
      { name: 'publisher', argv: ['publish-outbox', ...ops(publisherPort), '--poll-interval', '250ms'], opsPort: publisherPort },
      {
        name: 'worker',
        argv: [
          'worker',
          ...ops(workerPort),
          '--group',
          this.workerGroup,
          // A killed worker's partitions wait this long before they move; 6 s is the broker's minimum.
          '--session-timeout',
          options.chaos ? '6s' : '10s',
          '--stripe-timeout',
          options.chaos ? CHAOS_STRIPE_TIMEOUT : '20s',
        ],
        opsPort: workerPort,
      },
      // The receiver serves /readyz and /metrics on its webhook port.
      {
        name: 'receiver',
        argv: ['webhook-serve', '--host', '127.0.0.1', '--port', String(dev.webhookPort), '--path', dev.webhookPath],
        opsPort: dev.webhookPort,
      },
    ];
    for (const spec of specs) this.roles.push(new SupervisedRole({ ...spec, env }, dev.runDir, options.log, (line) => this.note(line)));
    await Promise.all(this.roles.map((role) => role.start()));
  }

  /** Takes a look at the pipeline every tick and shows it, until the run stops. */
  private async monitor(): Promise<void> {
    while (!this.stop.signal.aborted) {
      await this.look();
      this.emit();
      await abortableSleep(TICK_MS, [this.stop.signal]);
    }
    await this.look();
  }

  private async look(): Promise<void> {
    try {
      this.latest = await this.probe.facts();
      if (this.probeError !== undefined)
        this.note(
          `${this.probeError.unreachable ? `${this.probeError.unreachable} reachable again` : "the pipeline's state can be read again"} after ${formatMs(Date.now() - this.probeError.since)}`,
        );
      this.probeError = undefined;
    } catch (error) {
      // Keep the last picture and keep watching; say so once.
      if (this.probeError === undefined) {
        const kafka = (error as { name?: unknown }).name?.toString().startsWith('KafkaJS') ?? false;
        const unreachable = kafka ? 'Kafka' : isDatabaseUnavailable(error) ? 'database' : undefined;
        this.note(
          unreachable
            ? `${unreachable} unreachable (${errorMessage(error)}); still watching`
            : `could not read the pipeline's state: ${errorMessage(error)}`,
        );
        this.probeError = { since: Date.now(), unreachable };
      }
    }
    const [worker, receiver] = await Promise.all([this.role('worker').metrics(), this.role('receiver').metrics()]);
    if (worker)
      this.duplicates.worker.observe(
        sumSamples(worker.text, 'paymentsctl_worker_messages_processed_total', { result: 'duplicate' }),
        worker.pid,
      );
    if (receiver) this.duplicates.webhook.observe(sumSamples(receiver.text, 'paymentsctl_webhook_duplicates_total'), receiver.pid);
    const facts = this.latest;
    if (facts && this.settledAt === undefined && this.settledCount(facts) >= this.plan.length) this.settledAt = Date.now();
    this.history.push({
      at: Date.now(),
      placed: this.placed,
      published: facts?.published ?? 0,
      settled: facts ? this.settledCount(facts) : 0,
      webhooks: facts?.webhookEvents ?? 0,
    });
    while (this.history.length > 2 && Date.now() - this.history[0]!.at > 3_000) this.history.shift();
  }

  /**
   * Resolves once every order settled — or, when webhooks were lost (--chaos drops some), once
   * nothing moves and nothing is in flight: the outbox and the consumer group are empty, the
   * customers have paid, and the emulator has no delivery left to make. What is unsettled then
   * is left to reconciliation.
   */
  private async untilSettledOrIdle(customers: Promise<void>): Promise<boolean> {
    let customersDone = false;
    void customers.then(() => (customersDone = true));
    let idle = 0;
    let signature = '';
    let settled = false;
    await this.waitFor((facts) => {
      settled = this.settledCount(facts) >= this.plan.length;
      if (settled) return true;
      // Outcomes only: while --chaos kills roles, restarts and redeliveries keep the other numbers moving.
      const now = JSON.stringify(facts.outcomes);
      const quiet = now === signature && customersDone && facts.outboxBacklog === 0 && facts.consumerLag === 0;
      signature = now;
      idle = quiet ? idle + 1 : 0;
      if (idle === IDLE_TICKS) void this.refreshDeliveries();
      return idle >= IDLE_TICKS && this.deliveriesPending === 0;
    });
    return settled;
  }

  private deliveriesPending: number | undefined;

  private async refreshDeliveries(): Promise<void> {
    this.deliveriesPending = undefined;
    try {
      const deliveries = await this.dev.emulator.deliveries();
      this.deliveriesPending = deliveries.filter((delivery) => delivery.status === 'pending').length;
    } catch (error) {
      this.note(`could not read the emulator's webhook deliveries: ${errorMessage(error)}`);
    }
  }

  /**
   * Resolves once `done` holds for the latest look, or when nothing has moved for the stall
   * timeout (the checks then say what is missing), or when the run is interrupted.
   */
  private async waitFor(done: (facts: PipelineFacts) => boolean): Promise<void> {
    let signature = '';
    let movedAt = Date.now();
    while (!this.options.signal.aborted) {
      const facts = this.latest;
      if (facts && done(facts)) return;
      const now = JSON.stringify([this.placed, facts]);
      if (now !== signature || this.infraChaos?.busy) {
        signature = now;
        movedAt = Date.now();
      } else if (Date.now() - movedAt > this.options.stallTimeoutMs) {
        this.note(`nothing moved for ${Math.round(this.options.stallTimeoutMs / 1000)}s; checking what there is`);
        return;
      }
      await abortableSleep(TICK_MS, [this.options.signal]);
    }
  }

  private settledCount(facts: PipelineFacts): number {
    return PAYMENT_STATUSES.filter(isTerminal).reduce((sum, status) => sum + facts.outcomes[status], 0);
  }

  private role(name: RoleName): SupervisedRole {
    return this.roles.find((role) => role.name === name)!;
  }

  private note(line: string): void {
    const text = `[${((Date.now() - this.startedAt) / 1000).toFixed(1)}s] ${line}`;
    this.recent.push(text);
    if (this.recent.length > RECENT_LINES) this.recent.shift();
    this.options.log.info({ run: this.dev.runId }, line);
  }

  private stage(key: 'placed' | 'published' | 'settled' | 'webhooks'): StageSnapshot {
    const first = this.history[0];
    const last = this.history[this.history.length - 1];
    if (!first || !last) return { total: 0, perSecond: 0 };
    const seconds = (last.at - first.at) / 1000;
    return { total: last[key], perSecond: seconds > 0 ? Math.max(0, (last[key] - first[key]) / seconds) : 0 };
  }

  private emit(): void {
    const facts = this.latest;
    this.options.onSnapshot?.({
      phase: this.phase,
      elapsedMs: Date.now() - this.startedAt,
      chaos: this.options.chaos,
      orders: { planned: this.plan.length, placed: this.placed, terminal: facts ? this.settledCount(facts) : 0 },
      stages: {
        placed: this.stage('placed'),
        published: this.stage('published'),
        settled: this.stage('settled'),
        webhooks: this.stage('webhooks'),
      },
      outboxBacklog: facts?.outboxBacklog ?? 0,
      consumerLag: facts?.consumerLag ?? 0,
      retries: facts?.retries ?? 0,
      deadLetters: facts?.deadLetters ?? 0,
      outcomes: facts?.outcomes ?? emptyOutcomes(),
      compensated: facts?.compensated ?? 0,
      duplicatesAbsorbed: { worker: this.duplicates.worker.total, webhook: this.duplicates.webhook.total },
      roles: this.roles.map((role) => role.snapshot()),
      recent: [...this.recent],
    });
  }

  /** What the stores say about the run's orders now; the emulator's deliveries only to judge a staged incident. */
  private async evidence({ deliveries: withDeliveries = Boolean(this.options.incident) } = {}) {
    const { dev } = this;
    const ids = this.plan.map((order) => order.aggregateId);
    const [orders, statuses, compensated, chargeReport, facts, history, deliveries] = await Promise.all([
      committedOrders(this.pool),
      paymentStatuses(this.pool, ids),
      compensations(this.pool, ids),
      dev.emulator.charges(),
      this.probe.facts(),
      chargeAndRefundUsers(this.pool, ids),
      withDeliveries ? dev.emulator.deliveries() : Promise.resolve([]),
    ]);
    const charges = new Map(ids.filter((id) => (chargeReport.byOrder[id] ?? 0) > 0).map((id) => [id, chargeReport.byOrder[id]!]));
    const droppedDeliveries = deliveries.filter((d) => d.endpoint === dev.webhookEndpointId && d.status === 'dropped').length;
    return { orders, statuses, compensated, charges, facts, history, droppedDeliveries };
  }

  /**
   * The checks over that evidence. A staged incident is judged as staged (its orders left out of
   * the outcome checks) until `healing`, when every order must hold.
   */
  private judge(evidence: Awaited<ReturnType<DevRun['evidence']>>, { healing }: { healing: boolean }) {
    const { orders, statuses, compensated, charges, facts, history, droppedDeliveries } = evidence;
    const unexpectedExits = this.roles.reduce((sum, role) => sum + role.snapshot().unexpectedExits, 0);
    const staged = { plan: this.plan, refused: this.refused, statuses, charges, deadLetters: facts.deadLetters, droppedDeliveries };
    const incident = this.options.incident && !healing ? describeIncident(staged) : undefined;
    const checks = checkInvariants({
      orders,
      requested: this.options.orders,
      statuses,
      compensations: compensated,
      charges,
      users: ownersOf(this.plan),
      history,
      outboxBacklog: facts.outboxBacklog,
      deadLetters: facts.deadLetters,
      consumerLag: facts.consumerLag,
      unexpectedExits,
      ...(incident
        ? {
            incident: {
              unsettled: new Set([...incident.deadLettered, ...incident.awaitingWebhooks]),
              deadLetters: incident.deadLettered.length,
            },
          }
        : {}),
    });
    if (incident) checks.push(incidentCheck(staged, incident));
    else if (!this.options.incident) checks.push(reconciliationCheck(this.options.chaos, this.reconciliation));
    return { checks, incident, unexpectedExits };
  }

  private async summarize(): Promise<DevSummary> {
    const { dev, options } = this;
    const evidence = await this.evidence();
    const { orders, statuses, compensated, charges, facts } = evidence;
    const { checks, incident, unexpectedExits } = this.judge(evidence, { healing: false });
    const outcomes = emptyOutcomes();
    for (const status of statuses.values()) outcomes[status]++;
    const kills = Object.fromEntries(this.roles.map((role) => [role.name, role.snapshot().kills])) as Record<RoleName, number>;
    const ok = checks.every((c) => c.ok);
    const busySeconds = this.firstPlacedAt && this.settledAt ? (this.settledAt - this.firstPlacedAt) / 1000 : 0;
    return {
      ok,
      runId: dev.runId,
      seed: options.seed,
      chaos: options.chaos,
      durationMs: Date.now() - this.startedAt,
      orders: {
        requested: options.orders,
        placed: orders.length,
        direct: this.plan.filter((order) => order.flow === 'direct').length,
        checkout: this.plan.filter((order) => order.flow === 'checkout').length,
        expectedSucceeded: this.plan.filter((order) => order.pays).length,
        expectedFailed: this.plan.filter((order) => !order.pays).length,
      },
      outcomes,
      missing: this.plan.filter((order) => !statuses.has(order.aggregateId)).length,
      compensated: compensated.size,
      emulator: {
        ordersCharged: charges.size,
        successfulCharges: [...charges.values()].reduce((sum, n) => sum + n, 0),
        doubleCharged: [...charges].filter(([, n]) => n > 1).map(([id]) => id),
      },
      outboxBacklog: facts.outboxBacklog,
      consumerLag: facts.consumerLag,
      deadLetters: facts.deadLetters,
      retries: facts.retries,
      duplicatesAbsorbed: { worker: this.duplicates.worker.total, webhook: this.duplicates.webhook.total },
      kills: { total: Object.values(kills).reduce((sum, n) => sum + n, 0), ...kills },
      ...(this.infraChaos ? { infraRestarts: { ...this.infraChaos.restarts } } : {}),
      unexpectedExits,
      ordersPerSecond: busySeconds > 0 ? Math.round((orders.length / busySeconds) * 10) / 10 : 0,
      ...(this.reconciliation ? { reconciliation: this.reconciliation } : {}),
      ...(incident ? { incident } : {}),
      checks,
      where: {
        database: `paymentsctl_dev_${dev.runId}`,
        topicPrefix: dev.topicPrefix,
        logDir: dev.runDir,
        kept: !ok || options.keep,
        ...(dev.ownPostgres && (!ok || options.keep) ? { postgresCluster: clusterWhere(dev.ownPostgres.current) } : {}),
      },
    };
  }
}

/** A kept run's own PostgreSQL cluster: it keeps running for the kept database, and nothing else stops it. */
function clusterWhere(cluster: ManagedPostgres): { port: number; dataDir: string; stopCommand: string } {
  return { port: cluster.port, dataDir: join(cluster.dir, 'data'), stopCommand: stopPostgresCommand(cluster) };
}
