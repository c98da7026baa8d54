import type { PaymentStatus } from '../payments/status.js';

/** The roles `dev` runs as child processes, as they run in containers. */
export type RoleName = 'publisher' | 'worker' | 'receiver';
export const ROLE_NAMES: readonly RoleName[] = ['publisher', 'worker', 'receiver'];

export type RoleState = 'starting' | 'ready' | 'down' | 'stopped';

export interface RoleSnapshot {
  name: RoleName;
  state: RoleState;
  pid?: number;
  /** SIGKILLs sent by --chaos */
  kills: number;
  /** exits nobody asked for (a crash) */
  unexpectedExits: number;
  restarts: number;
}

/** One stage of the pipeline: how many items passed it so far and how fast lately. */
export interface StageSnapshot {
  total: number;
  perSecond: number;
}

export type DevPhase = 'placing' | 'draining' | 'checking' | 'done';

/** What the live view shows; taken about twice a second from Postgres, Kafka, the emulator and the roles. */
export interface DevSnapshot {
  phase: DevPhase;
  elapsedMs: number;
  chaos: boolean;
  orders: { planned: number; placed: number; terminal: number };
  stages: {
    /** orders enqueued in application transactions */
    placed: StageSnapshot;
    /** outbox rows sent to Kafka */
    published: StageSnapshot;
    /** payments that reached a terminal status */
    settled: StageSnapshot;
    /** Stripe events the receiver recorded */
    webhooks: StageSnapshot;
  };
  /** outbox rows not yet sent to Kafka */
  outboxBacklog: number;
  /** messages the worker's group has not consumed yet, over all topics it reads */
  consumerLag: number;
  /** messages sent to a retry topic so far */
  retries: number;
  /** messages in dead-letter topics that `replay dlq` has not put back */
  deadLetters: number;
  /** payments rows by status */
  outcomes: Record<PaymentStatus, number>;
  /** failed payments whose order was released (orders.cancelled consumed by the saga) */
  compensated: number;
  /** deliveries recognised as already processed and dropped without effect */
  duplicatesAbsorbed: { worker: number; webhook: number };
  roles: RoleSnapshot[];
  /** the latest notable happenings (kills, restarts, fault changes), newest last */
  recent: string[];
}

/** What `reconcile --fix --execute` did at the end of the run. */
export interface DevReconciliation {
  /** discrepancies found between the payments table and Stripe */
  found: number;
  /** rows it moved to the outcome Stripe had (lost webhooks healed) */
  healed: number;
  /** discrepancies it could not repair */
  remaining: number;
  byCode: Record<string, number>;
  stripeRequests: number;
}

/** What `dev --incident` left for the operator to heal. */
export interface DevIncident {
  /** orders whose payment was dead-lettered while Stripe refused them */
  deadLettered: string[];
  /** Checkout orders whose outcome only a dropped webhook carried */
  awaitingWebhooks: string[];
  /** this run's webhook deliveries the emulator dropped */
  droppedDeliveries: number;
  /** what heals it, in order */
  heal: string[];
  /** every check held over every order, the incident's included, before the pipeline was stopped */
  healed: boolean;
}

export interface InvariantCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DevSummary {
  ok: boolean;
  runId: string;
  seed: number;
  chaos: boolean;
  durationMs: number;
  orders: {
    requested: number;
    placed: number;
    /** charged directly with a PaymentIntent (orders.placed) */
    direct: number;
    /** paid through a Checkout Session and its webhooks (checkout.requested) */
    checkout: number;
    expectedSucceeded: number;
    expectedFailed: number;
  };
  outcomes: Record<PaymentStatus, number>;
  /** orders with no payments row at all */
  missing: number;
  compensated: number;
  emulator: {
    /** this run's orders with at least one successful charge */
    ordersCharged: number;
    successfulCharges: number;
    /** orders charged more than once */
    doubleCharged: string[];
  };
  outboxBacklog: number;
  consumerLag: number;
  deadLetters: number;
  retries: number;
  duplicatesAbsorbed: { worker: number; webhook: number };
  kills: { total: number } & Record<RoleName, number>;
  /** with --chaos-infra: PostgreSQL restarts and Kafka broker kills (each brought back by the run) */
  infraRestarts?: { postgres: number; kafka: number };
  unexpectedExits: number;
  /** orders per second from the first order placed to the last one settled */
  ordersPerSecond: number;
  /** reconciliation at the end of the run; absent when the run stopped before it */
  reconciliation?: DevReconciliation;
  /** with --incident: what it left to heal, and whether it was healed before the run was stopped */
  incident?: DevIncident;
  checks: InvariantCheck[];
  /** where the run's database, topics and role logs are (kept with --keep or when a check failed) */
  where: {
    database: string;
    topicPrefix: string;
    logDir: string;
    kept: boolean;
    /** --chaos-infra, kept: the run's own PostgreSQL cluster, left running for the kept database, and what stops it */
    postgresCluster?: { port: number; dataDir: string; stopCommand: string };
  };
}
