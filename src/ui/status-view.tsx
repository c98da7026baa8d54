import { useEffect, useRef, useState } from 'react';
import { Box, Text, render, useApp, useInput } from 'ink';
import type { StatusReport } from '../ops/status/report.js';
import { ExitCode } from '../errors.js';
import { formatAge } from './status.js';

/*
 * `paymentsctl status --watch`: the verdict and findings on top, then the trend of the outbox
 * backlog and of consumer lag over the last refreshes, and a line per group and per held DLQ.
 */

const TREND_POINTS = 30;
const FINDINGS_SHOWN = 8;
const BARS = '▁▂▃▄▅▆▇█';

/** A one-line chart of the values, scaled to their own maximum. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))])).join('');
}

export interface Trend {
  backlog: number[];
  lag: number[];
}

export const backlogOf = (report: StatusReport) => (report.outbox?.topics ?? []).reduce((sum, t) => sum + t.unpublished + t.setAside, 0);
export const lagOf = (report: StatusReport) => (report.consumers ?? []).reduce((sum, g) => sum + g.lag, 0);

const VERDICT_COLOR = { healthy: 'green', degraded: 'yellow', unreachable: 'red' } as const;
const LAG_COLOR = { OK: 'green', WARN: 'yellow', STALL: 'red', STOP: 'red' } as const;

export function StatusView({ report, trend, refreshMs }: { report: StatusReport | undefined; trend: Trend; refreshMs: number }) {
  if (!report) return <Text dimColor>paymentsctl status: first look…</Text>;
  const held = (report.deadLetters ?? []).filter((d) => d.depth > 0);
  return (
    <Box flexDirection="column">
      <Box gap={2}>
        <Text bold>paymentsctl status</Text>
        <Text color={VERDICT_COLOR[report.verdict]} bold>
          {report.verdict}
        </Text>
        <Text dimColor>
          {report.generatedAt} · every {formatAge(refreshMs)} · q quits
        </Text>
      </Box>
      {[...report.unreachable.map((u) => `${u.store}: ${u.error}`), ...report.findings.map((f) => f.message)]
        .slice(0, FINDINGS_SHOWN)
        .map((text, i) => (
          <Text key={i} color="red" wrap="truncate-end">
            ✗ {text}
          </Text>
        ))}
      <Box marginTop={1} flexDirection="column">
        <Text>
          {'outbox backlog '.padEnd(16)}
          {String(trend.backlog.at(-1) ?? 0).padStart(7)} <Text color="cyan">{sparkline(trend.backlog)}</Text>
        </Text>
        <Text>
          {'consumer lag '.padEnd(16)}
          {String(trend.lag.at(-1) ?? 0).padStart(7)} <Text color="cyan">{sparkline(trend.lag)}</Text>
        </Text>
      </Box>
      <Box marginTop={1} flexDirection="column">
        {(report.consumers ?? []).map((g) => (
          <Text key={g.groupId} wrap="truncate-end">
            {g.groupId} <Text dimColor>{g.state}</Text> {g.members.length} member(s) lag {g.lag} time lag {formatAge(g.maxTimeLagMs)}{' '}
            <Text color={LAG_COLOR[g.verdict]}>{g.verdict}</Text>
          </Text>
        ))}
        {held.map((d) => (
          <Text key={d.topic} color="red">
            {d.topic}: {d.depth} dead letter(s), oldest {formatAge(d.oldestAgeMs)}
          </Text>
        ))}
        {report.payments && (
          <Text>
            payments:{' '}
            {Object.entries(report.payments.byStatus)
              .map(([status, n]) => `${status} ${n}`)
              .join('  ')}
          </Text>
        )}
      </Box>
    </Box>
  );
}

/** What the watch view reads from: a StatusMonitor. */
export interface StatusSource {
  look(): Promise<void>;
  report(): Promise<StatusReport>;
}

export function StatusWatch({
  source,
  refreshMs,
  onReport,
}: {
  source: StatusSource;
  refreshMs: number;
  onReport?: (report: StatusReport) => void;
}) {
  const { exit } = useApp();
  const [report, setReport] = useState<StatusReport | undefined>();
  const [trend, setTrend] = useState<Trend>({ backlog: [], lag: [] });
  const stopped = useRef(false);
  useInput((input, key) => {
    if (input === 'q' || key.escape || (key.ctrl && input === 'c')) {
      stopped.current = true;
      exit();
    }
  });
  useEffect(() => {
    let timer: NodeJS.Timeout | undefined;
    const refresh = async () => {
      await source.look();
      const next = await source.report();
      if (stopped.current) return;
      onReport?.(next);
      setReport(next);
      setTrend((t) => ({
        backlog: [...t.backlog, backlogOf(next)].slice(-TREND_POINTS),
        lag: [...t.lag, lagOf(next)].slice(-TREND_POINTS),
      }));
      timer = setTimeout(() => void refresh(), refreshMs);
    };
    void refresh();
    return () => {
      stopped.current = true;
      clearTimeout(timer);
    };
  }, [source, refreshMs, onReport]);
  return <StatusView report={report} trend={trend} refreshMs={refreshMs} />;
}

/** Runs the live view until q; the exit code is that of the last report shown. */
export async function watchStatus(monitor: StatusSource & { close(): Promise<void> }, options: { refreshMs: number }): Promise<number> {
  let last: StatusReport | undefined;
  const instance = render(<StatusWatch source={monitor} refreshMs={options.refreshMs} onReport={(r) => (last = r)} />, {
    exitOnCtrlC: false,
  });
  try {
    await instance.waitUntilExit();
  } finally {
    instance.unmount();
    await monitor.close();
  }
  if (!last) return ExitCode.ok;
  return last.verdict === 'healthy' ? ExitCode.ok : last.verdict === 'degraded' ? ExitCode.failed : ExitCode.unavailable;
}
