import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { emptyOutcomes } from '../../src/ops/pipeline-reads.js';
import { DEFAULT_THRESHOLDS, type StatusReport } from '../../src/ops/status/report.js';
import { StatusView, StatusWatch, sparkline, type StatusSource } from '../../src/ui/status-view.js';
import { waitFor } from '../helpers/wait.js';

const report = (over: Partial<StatusReport> = {}): StatusReport => ({
  verdict: 'healthy',
  generatedAt: '2026-12-02T03:00:00.000Z',
  findings: [],
  unreachable: [],
  thresholds: DEFAULT_THRESHOLDS,
  window: { looks: 3, spanMs: 2_000 },
  database: '127.0.0.1:5432/payments',
  brokers: ['127.0.0.1:9092'],
  topicPrefix: 'prod.',
  schema: { state: 'current', at: '005_transactions.sql' },
  outbox: {
    topics: [{ topic: 'orders.placed', unpublished: 4, setAside: 0, oldestUnpublishedMs: 1_000, pastRetention: 0 }],
    setAside: [],
    retainMs: 0,
  },
  publisher: { leaders: [], instances: 1, latestTerm: '3' },
  consumers: [
    {
      groupId: 'prod.paymentsctl-worker',
      state: 'Stable',
      members: [{ clientId: 'w', host: 'h' }],
      lag: 7,
      verdict: 'OK',
      maxTimeLagMs: 1_500,
      partitions: [],
    },
  ],
  retries: [],
  deadLetters: [{ topic: 'prod.orders.placed.dlq', depth: 2, replayed: 0, oldestAgeMs: 90_000, errorKinds: {}, reasons: {}, sampled: 2 }],
  payments: { byStatus: { ...emptyOutcomes(), succeeded: 10 }, stuck: [], stuckCount: 0 },
  webhooks: { lastReceivedAgeMs: 1_000, lastHourByType: {} },
  stripe: { configured: false, reachable: null, mode: null },
  ...over,
});

const plain = (frame: string | undefined) => stripVTControlCharacters(frame ?? '');

describe('status --watch view', () => {
  it('shows the verdict, the findings first, the trend of backlog and lag, groups and held DLQs', () => {
    const degraded = report({
      verdict: 'degraded',
      findings: [
        { section: 'consumers', kind: 'consumer_stall', message: 'consumers: group prod.paymentsctl-worker STALL on prod.orders.placed/0' },
      ],
    });
    const { lastFrame, unmount } = render(
      <StatusView report={degraded} trend={{ backlog: [0, 2, 4], lag: [1, 7, 7] }} refreshMs={5_000} />,
    );
    const lines = plain(lastFrame()).split('\n');
    unmount();
    expect(lines[0]).toMatch(/paymentsctl status\s+degraded/);
    expect(lines[1]).toContain('✗ consumers: group prod.paymentsctl-worker STALL on prod.orders.placed/0');
    expect(lines.find((l) => l.startsWith('outbox backlog'))).toContain(`4 ${sparkline([0, 2, 4])}`);
    expect(lines.find((l) => l.startsWith('consumer lag'))).toContain('7');
    expect(lines.some((l) => l.includes('prod.paymentsctl-worker Stable 1 member(s) lag 7 time lag 2 s OK'))).toBe(true);
    expect(lines.some((l) => l.includes('prod.orders.placed.dlq: 2 dead letter(s), oldest 90 s'))).toBe(true);
  });

  it('sparklines scale to their maximum', () => {
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([0, 4, 8])).toBe('▁▅█');
  });

  it('refreshes from its source, adds to the trend, and q quits', async () => {
    let looks = 0;
    const source: StatusSource = {
      look: async () => void looks++,
      report: async () =>
        report({
          outbox: {
            topics: [{ topic: 'orders.placed', unpublished: looks * 10, setAside: 0, oldestUnpublishedMs: 0, pastRetention: 0 }],
            setAside: [],
            retainMs: 0,
          },
        }),
    };
    const { lastFrame, stdin, unmount, frames } = render(<StatusWatch source={source} refreshMs={20} />);
    await waitFor('three refreshes', () => looks >= 3 && plain(lastFrame()).includes('outbox backlog'));
    expect(plain(lastFrame())).toMatch(/outbox backlog\s+\d+0 [▁-█]{2,}/);
    stdin.write('q');
    const after = looks;
    await new Promise((resolve) => setTimeout(resolve, 100));
    // quitting stops the refreshes
    expect(looks).toBeLessThanOrEqual(after + 1);
    expect(frames.length).toBeGreaterThan(1);
    unmount();
  });
});
