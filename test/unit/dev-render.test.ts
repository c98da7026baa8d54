import { stripVTControlCharacters } from 'node:util';
import chalk from 'chalk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DevSnapshot, DevSummary } from '../../src/dev/types.js';
import { renderDevSummary, renderProgressLine } from '../../src/ui/dev.js';
import { chaosRun } from '../helpers/dev-snapshot.js';

// A fractional rate, to see it rounded.
const snapshot: DevSnapshot = { ...chaosRun, stages: { ...chaosRun.stages, published: { total: 1_480, perSecond: 310.4 } } };

const passing: DevSummary = {
  ok: true,
  runId: 'r7f3a',
  seed: 42,
  chaos: false,
  durationMs: 41_250,
  orders: { requested: 1_000, placed: 1_000, direct: 700, checkout: 300, expectedSucceeded: 820, expectedFailed: 180 },
  outcomes: { succeeded: 820, failed: 180, cancelled: 0, refunded: 0, pending: 0, requires_action: 0 },
  missing: 0,
  compensated: 180,
  emulator: { ordersCharged: 820, successfulCharges: 820, doubleCharged: [] },
  outboxBacklog: 0,
  consumerLag: 0,
  deadLetters: 0,
  retries: 14,
  duplicatesAbsorbed: { worker: 5, webhook: 11 },
  kills: { total: 0, publisher: 0, worker: 0, receiver: 0 },
  unexpectedExits: 0,
  ordersPerSecond: 24.24,
  checks: [
    { name: 'every order reached its expected outcome', ok: true, detail: '1,000 of 1,000' },
    { name: 'no order charged twice', ok: true, detail: '820 orders, 820 charges' },
    { name: 'pipeline drained', ok: true, detail: 'backlog 0, lag 0, dlq 0' },
  ],
  where: { database: 'paymentsctl_dev_r7f3a', topicPrefix: 'dev-r7f3a.', logDir: 'logs/dev-r7f3a', kept: false },
};

const doubleChargedIds = Array.from({ length: 12 }, (_, index) => `ord_${String(index + 1).padStart(3, '0')}`);

const failing: DevSummary = {
  ...passing,
  ok: false,
  emulator: { ordersCharged: 820, successfulCharges: 832, doubleCharged: doubleChargedIds },
  checks: [
    { name: 'every order reached its expected outcome', ok: true, detail: '1,000 of 1,000' },
    { name: 'no order charged twice', ok: false, detail: '12 orders charged more than once' },
  ],
  where: { ...passing.where, database: 'postgres://app:hunter22secret@127.0.0.1:5432/paymentsctl_dev_r7f3a', kept: true },
};

const chaotic: DevSummary = {
  ...passing,
  chaos: true,
  kills: { total: 9, publisher: 3, worker: 4, receiver: 2 },
  unexpectedExits: 1,
};

const plain = (text: string) => stripVTControlCharacters(text);

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('renderProgressLine', () => {
  it('is one line with every number, in a fixed order', () => {
    const line = renderProgressLine(snapshot);
    expect(line).toBe(
      '[12.3s] placing  placed 800/1,000  settled 640/1,000 (64%)  published 1,480 (310/s)  webhooks 212  backlog 12  lag 47  retries 3  dlq 0  ok 520 failed 97  kills 5\n',
    );
  });

  it('carries no colour codes even when colour is forced', () => {
    vi.stubEnv('FORCE_COLOR', '3');
    const level = chalk.level;
    chalk.level = 3;
    try {
      // The check means something only if colour really is on.
      expect(chalk.red('x')).toContain('\u001b[');
      const line = renderProgressLine({ ...snapshot, deadLetters: 5, roles: snapshot.roles.map((role) => ({ ...role, state: 'down' })) });
      expect(line).not.toContain('\u001b');
      expect(line).toBe(plain(line));
      expect(line).toContain('dlq 5');
    } finally {
      chalk.level = level;
    }
  });

  it('shows 0% before anything is planned and at most 100%', () => {
    expect(renderProgressLine({ ...snapshot, orders: { planned: 0, placed: 0, terminal: 0 } })).toContain('settled 0/0 (0%)');
    expect(renderProgressLine({ ...snapshot, orders: { planned: 1_000, placed: 1_000, terminal: 999 } })).toContain('(99%)');
    expect(renderProgressLine({ ...snapshot, orders: { planned: 1_000, placed: 1_000, terminal: 1_000 } })).toContain('(100%)');
  });
});

describe('renderDevSummary', () => {
  it('a passing run: ✓ verdict with run id, seed, duration and rate, the numbers, and every check', () => {
    const text = plain(renderDevSummary(passing));
    const [heading] = text.split('\n');
    expect(heading).toMatch(/^✓ dev run passed/);
    expect(heading).toContain('run r7f3a');
    expect(heading).toContain('seed 42');
    expect(heading).toContain('41.3s');
    expect(heading).toContain('24.2 orders/s');
    expect(heading).not.toContain('chaos');

    expect(text).toMatch(
      /^orders\s+requested 1,000 {2}placed 1,000 {2}direct 700 {2}checkout 300 {2}\(expected succeeded 820, failed 180\)$/m,
    );
    expect(text).toMatch(
      /^outcomes\s+succeeded 820 {2}failed 180 {2}cancelled 0 {2}refunded 0 {2}pending 0 {2}requires_action 0 {2}missing 0$/m,
    );
    expect(text).toMatch(/^compensated\s+180$/m);
    expect(text).toMatch(/^emulator\s+orders charged 820 {2}successful charges 820 {2}double-charged none$/m);
    expect(text).toMatch(/^pipeline\s+outbox backlog 0 {2}consumer lag 0 {2}dlq 0 {2}retries 14$/m);
    expect(text).toMatch(/^duplicates\s+absorbed by worker 5 {2}by webhook receiver 11$/m);
    expect(text).toMatch(/^roles\s+unexpected exits 0$/m);
    expect(text).not.toMatch(/^chaos/m);

    for (const check of passing.checks) expect(text).toContain(`  ✓ ${check.name} — ${check.detail}\n`);
    expect(text).not.toContain('✗');

    // A passing run removed its data, so the summary does not point at a deleted database or logs.
    expect(text).toMatch(/^run data\s+removed: database, topics and logs \(--keep keeps them\)$/m);
    expect(text).not.toMatch(/^(database|topic prefix|logs)\s/m);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('a failing run: ✗ verdict, the failed check with its detail, the first ten double-charged ids', () => {
    const text = plain(renderDevSummary(failing));
    expect(text.split('\n')[0]).toMatch(/^✗ dev run failed \(1 of 2 checks\)/);
    expect(text).toContain('  ✓ every order reached its expected outcome — 1,000 of 1,000\n');
    expect(text).toContain('  ✗ no order charged twice — 12 orders charged more than once\n');
    expect(text).toContain(`double-charged 12: ${doubleChargedIds.slice(0, 10).join(', ')} and 2 more`);
    expect(text).not.toContain('ord_011');
    expect(text).toMatch(/^run data\s+kept$/m);
    expect(text).toMatch(/^topic prefix\s+dev-r7f3a\.$/m);
    expect(text).toMatch(/^logs\s+logs\/dev-r7f3a$/m);
    // A database URL's password never reaches the terminal.
    expect(text).not.toContain('hunter22secret');
    expect(text).toContain('127.0.0.1:5432/paymentsctl_dev_r7f3a');
  });

  it('a kept --chaos-infra run: where its own PostgreSQL cluster runs, and the command that stops it', () => {
    const stopCommand = "su postgres -c '/usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg-x/data -m fast stop' && rm -rf /tmp/pg-x";
    const text = plain(
      renderDevSummary({
        ...failing,
        where: { ...failing.where, postgresCluster: { port: 41234, dataDir: '/tmp/pg-x/data', stopCommand } },
      }),
    );
    expect(text).toMatch(/^postgres\s+the run's own cluster, port 41234, data \/tmp\/pg-x\/data$/m);
    expect(text).toContain(`left running; \`stack down\` does not stop it: ${stopCommand}`);
    expect(plain(renderDevSummary(failing))).not.toContain("the run's own cluster");
  });

  it('a chaos run: kills in total and per role, and unexpected exits', () => {
    const text = plain(renderDevSummary(chaotic));
    expect(text.split('\n')[0]).toContain('chaos');
    expect(text).toMatch(/^chaos\s+kills 9 \(publisher 3, worker 4, receiver 2\) {2}unexpected exits 1$/m);
  });
});
