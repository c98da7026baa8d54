import { DEFAULT_FAULTS, type FaultConfig } from '../stripe-emulator/faults.js';
import { abortableSleep } from '../backoff.js';
import type { SeededRandom } from '../random.js';
import type { SupervisedRole } from './roles.js';

/**
 * What --chaos turns on in the emulator: Stripe answering 500 (some after doing the work, stored
 * under the idempotency key like Stripe does), connections reset after the work, responses held
 * past the worker's timeout, webhooks sent twice and out of order — and a share of webhooks never
 * sent at all, as Stripe sometimes never delivers: those outcomes are found and healed only by the
 * reconciliation at the end of the run.
 */
export const CHAOS_FAULTS: FaultConfig = {
  ...DEFAULT_FAULTS,
  errorRate: 0.04,
  errorStatus: 500,
  errorAfterRunRate: 0.3,
  resetRate: 0.02,
  timeoutRate: 0.02,
  timeoutMs: 3_000,
  dropRate: 0.1,
  duplicateRate: 0.15,
  reorder: true,
  reorderWindow: 5,
};

/** The worker's Stripe timeout under --chaos: shorter than CHAOS_FAULTS.timeoutMs, so a held response times out. */
export const CHAOS_STRIPE_TIMEOUT = '2s';

export interface ChaosTiming {
  /** pause between kills, drawn uniformly from [min, max] */
  intervalMs: [number, number];
  /** how long a killed role stays down before it is started again */
  downtimeMs: [number, number];
  /** a role is killed again only after it has been up this long, so the pipeline keeps moving */
  minUpMs: number;
}

export const CHAOS_TIMING: ChaosTiming = { intervalMs: [1_000, 3_000], downtimeMs: [100, 1_500], minUpMs: 3_000 };

/**
 * SIGKILLs a role that is up, at random intervals, and starts it again after a random downtime —
 * a node lost, an OOM kill, a rolling deploy gone wrong. One role at a time, so the others keep
 * the pipeline moving.
 */
export class ChaosMonkey {
  private readonly stopped = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly roles: readonly SupervisedRole[],
    private readonly random: SeededRandom,
    private readonly timing: ChaosTiming = CHAOS_TIMING,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Stops killing; resolves once the last killed role has been started again. */
  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private between([min, max]: [number, number]): number {
    return min + this.random.float() * (max - min);
  }

  private async run(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      await abortableSleep(this.between(this.timing.intervalMs), [this.stopped.signal]);
      if (this.stopped.signal.aborted) return;
      // Among the roles that are up, one of those killed least so far: kills spread over every role.
      const up = this.roles.filter((role) => role.readyForMs() >= this.timing.minUpMs);
      const fewest = Math.min(...up.map((role) => role.snapshot().kills));
      const candidates = up.filter((role) => role.snapshot().kills === fewest);
      if (candidates.length === 0) continue;
      const victim = candidates[this.random.int(candidates.length)]!;
      await victim.kill(this.between(this.timing.downtimeMs));
    }
  }
}
