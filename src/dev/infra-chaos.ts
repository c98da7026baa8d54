import { abortableSleep } from '../backoff.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { SeededRandom } from '../random.js';
import { haltPostgres, resumePostgres, type ManagedPostgres } from '../stack/postgres.js';
import { isProcessAlive } from '../stack/process.js';
import { stackStatus, stackUp } from '../stack/stack.js';

export interface InfraChaosTiming {
  /** pause between two restarts, drawn uniformly from [min, max] */
  intervalMs: [number, number];
  /** how long PostgreSQL stays down */
  postgresDownMs: [number, number];
  /** how long the broker stays dead before `stack up` brings it back (its start comes on top) */
  kafkaDownMs: [number, number];
  /** restarts of each kind done before stop() returns, however soon the run ends */
  minimumEach: number;
  /** no more outages once each kind happened this often: the run must also get to finish */
  maximumEach: number;
}

export const INFRA_CHAOS_TIMING: InfraChaosTiming = {
  // Counted from when the part is back: the pipeline catches up in between (a broker restart also
  // moves the consumer group, and its start alone takes 5–40 s on a busy laptop).
  intervalMs: [8_000, 15_000],
  postgresDownMs: [1_000, 5_000],
  kafkaDownMs: [2_000, 5_000],
  minimumEach: 2,
  maximumEach: 3,
};

export interface InfraRestarts {
  postgres: number;
  kafka: number;
}

/**
 * --chaos-infra: restarts PostgreSQL (fast shutdown: every connection terminated, then refused until
 * it is back) and SIGKILLs the Kafka broker, which `stack up` then brings back on the same address
 * with its data — a managed database's failover, a broker node lost. Only what this run or the
 * stack started: the run's own throwaway cluster, and a broker the stack launched. PostgreSQL and
 * Kafka take turns, one outage at a time.
 */
export class InfraChaos {
  readonly restarts: InfraRestarts = { postgres: 0, kafka: 0 };
  /** an outage is under way: the pipeline standing still now is expected, not a stall */
  busy = false;
  private readonly stopped = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly options: {
      /** the run's own cluster; it is started again under a new pid */
      postgres: { current: ManagedPostgres };
      env: NodeJS.ProcessEnv;
      random: SeededRandom;
      log: Logger;
      note: (line: string) => void;
      timing?: InfraChaosTiming;
    },
  ) {}

  private get timing(): InfraChaosTiming {
    return this.options.timing ?? INFRA_CHAOS_TIMING;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops the outages once each kind happened its minimum number of times; everything is up again after. */
  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private between([min, max]: [number, number]): number {
    return min + this.options.random.float() * (max - min);
  }

  private done(): boolean {
    const { minimumEach, maximumEach } = this.timing;
    const { postgres, kafka } = this.restarts;
    if (postgres >= maximumEach && kafka >= maximumEach) return true;
    return this.stopped.signal.aborted && postgres >= minimumEach && kafka >= minimumEach;
  }

  private async run(): Promise<void> {
    let next: 'postgres' | 'kafka' = 'postgres';
    while (!this.done()) {
      // Once the run is over, the remaining minimum follows without pauses.
      if (!this.stopped.signal.aborted) await abortableSleep(this.between(this.timing.intervalMs), [this.stopped.signal]);
      if (this.done()) return;
      const { minimumEach } = this.timing;
      if (this.stopped.signal.aborted && this.restarts[next] >= minimumEach) next = next === 'postgres' ? 'kafka' : 'postgres';
      this.busy = true;
      try {
        if (next === 'postgres') await this.restartPostgres();
        else await this.restartKafka();
      } catch (error) {
        // The pipeline stays broken until the part is back: say so, and try to bring it back again.
        this.options.note(`could not restart ${next}: ${errorMessage(error)}; trying again`);
        await abortableSleep(2_000, []);
        continue;
      } finally {
        this.busy = false;
      }
      next = next === 'postgres' ? 'kafka' : 'postgres';
    }
  }

  private async restartPostgres(): Promise<void> {
    const { postgres, note } = this.options;
    const downMs = Math.round(this.between(this.timing.postgresDownMs));
    note(`infra chaos: stopping PostgreSQL (port ${postgres.current.port}) for ${(downMs / 1000).toFixed(1)}s`);
    await haltPostgres(postgres.current, 'fast');
    await abortableSleep(downMs, []);
    postgres.current = await resumePostgres(postgres.current);
    this.restarts.postgres++;
    note(`infra chaos: PostgreSQL is back on port ${postgres.current.port}`);
  }

  private async restartKafka(): Promise<void> {
    const { env, note, log } = this.options;
    const status = await stackStatus({ env });
    const pid = status.kafka?.pid;
    if (!status.kafka?.managed || pid === undefined) throw new Error('the stack did not start the Kafka broker; it is not ours to kill');
    const downMs = Math.round(this.between(this.timing.kafkaDownMs));
    note(`infra chaos: SIGKILL the Kafka broker (pid ${pid}, ${status.kafka.url}), down for ${(downMs / 1000).toFixed(1)}s`);
    if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    while (isProcessAlive(pid)) await abortableSleep(50, []);
    await abortableSleep(downMs, []);
    const started = Date.now();
    const stack = await stackUp({ env, log });
    this.restarts.kafka++;
    note(`infra chaos: stack up brought the broker back on ${stack.kafkaBrokers} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
}
