import type { DevSnapshot } from '../../src/dev/types.js';

/** A chaos run mid-flight, shared by the live view and the progress line tests. */
export const chaosRun: DevSnapshot = {
  phase: 'placing',
  elapsedMs: 12_345,
  chaos: true,
  orders: { planned: 1_000, placed: 800, terminal: 640 },
  stages: {
    placed: { total: 800, perSecond: 120 },
    published: { total: 1_480, perSecond: 310 },
    settled: { total: 640, perSecond: 85 },
    webhooks: { total: 212, perSecond: 4.5 },
  },
  outboxBacklog: 12,
  consumerLag: 47,
  retries: 3,
  deadLetters: 0,
  outcomes: { succeeded: 520, failed: 97, cancelled: 6, refunded: 2, pending: 41, requires_action: 15 },
  compensated: 95,
  duplicatesAbsorbed: { worker: 23, webhook: 9 },
  roles: [
    { name: 'publisher', state: 'ready', pid: 4242, kills: 2, restarts: 2, unexpectedExits: 0 },
    { name: 'worker', state: 'starting', pid: 4311, kills: 3, restarts: 3, unexpectedExits: 1 },
    { name: 'receiver', state: 'stopped', kills: 0, restarts: 0, unexpectedExits: 0 },
  ],
  recent: [
    '3.0s killed publisher (pid 4100)',
    '3.4s publisher ready (pid 4180)',
    '5.2s killed worker (pid 4101)',
    '6.0s worker ready (pid 4250)',
    '9.8s killed publisher (pid 4180)',
    '10.1s publisher ready (pid 4242)',
    '11.9s killed worker (pid 4250)',
  ],
};
