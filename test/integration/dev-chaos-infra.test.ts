import { describe, expect, it } from 'vitest';
import { failedChecks, runDevCommand, whyItFailed } from '../helpers/dev.js';

describe('paymentsctl dev --chaos --chaos-infra', () => {
  it(
    'passes every invariant while roles are SIGKILLed, PostgreSQL restarts and the broker is killed and brought back',
    { timeout: 900_000 },
    async () => {
      // No KAFKA_BROKERS: the run's stack starts a broker of its own, the only kind it may kill (the
      // suite's shared broker is not touched); PostgreSQL is a throwaway cluster of the run's own.
      const run = await runDevCommand(['--orders', '1000', '--rate', '50', '--chaos', '--chaos-infra', '--seed', '77'], {
        timeoutMs: 880_000,
        env: { KAFKA_BROKERS: '' },
      });
      const { summary } = run;
      process.stdout.write(
        `infra chaos run: ${summary.infraRestarts?.postgres} PostgreSQL restarts, ${summary.infraRestarts?.kafka} broker restarts, ` +
          `${summary.kills.total} role kills; ${(summary.durationMs / 1000).toFixed(1)} s\n`,
      );
      expect(failedChecks(summary), whyItFailed(run)).toEqual([]);
      expect(run.exitCode).toBe(0);
      expect(summary.infraRestarts?.postgres).toBeGreaterThanOrEqual(2);
      expect(summary.infraRestarts?.kafka).toBeGreaterThanOrEqual(2);
      expect(summary.unexpectedExits).toBe(0);
      expect(summary.orders.placed).toBe(1000);
      expect(summary.missing).toBe(0);
      expect(summary.emulator.doubleCharged).toEqual([]);
      expect(summary.deadLetters).toBe(0);
    },
  );
});
