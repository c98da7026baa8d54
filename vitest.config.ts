import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // One real Postgres and one real Kafka broker for the whole run, started by the same launcher
    // as `paymentsctl stack up`; each test file makes its own database.
    globalSetup: ['test/setup/global-stack.ts'],
    pool: 'forks',
    // Two cores are shared with the broker and Postgres.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
