import { EventEmitter } from 'node:events';
import { stripVTControlCharacters } from 'node:util';
import chalk from 'chalk';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { DevSnapshot } from '../../src/dev/types.js';
import { chaosRun } from '../helpers/dev-snapshot.js';
import { DevView, startLiveView } from '../../src/ui/dev-view.js';

const quietRunWithTrouble: DevSnapshot = {
  ...chaosRun,
  phase: 'draining',
  elapsedMs: 30_000,
  chaos: false,
  orders: { planned: 1_000, placed: 1_000, terminal: 999 },
  deadLetters: 7,
  roles: [
    { name: 'publisher', state: 'ready', pid: 5001, kills: 0, restarts: 0, unexpectedExits: 0 },
    { name: 'worker', state: 'ready', pid: 5002, kills: 0, restarts: 0, unexpectedExits: 0 },
    { name: 'receiver', state: 'down', kills: 0, restarts: 1, unexpectedExits: 2 },
  ],
  recent: ['28.0s receiver exited unexpectedly (code 1)'],
};

function frameOf(snapshot: DevSnapshot): string {
  const { lastFrame, unmount } = render(<DevView snapshot={snapshot} />);
  const frame = lastFrame() ?? '';
  unmount();
  return frame;
}

/** The last line containing `text`: with several frames written, that is the newest one. */
function lineWith(frame: string, text: string): string {
  const line = stripVTControlCharacters(frame)
    .split('\n')
    .findLast((candidate) => candidate.includes(text));
  if (line === undefined) throw new Error(`no line with "${text}" in:\n${frame}`);
  return line;
}

const originalChalkLevel = chalk.level;
afterEach(() => {
  chalk.level = originalChalkLevel;
});

describe('DevView', () => {
  it('shows the header, progress, stages, health, outcomes, roles and recent happenings', () => {
    const frame = stripVTControlCharacters(frameOf(chaosRun));

    const header = lineWith(frame, 'paymentsctl dev');
    expect(header).toContain('placing');
    expect(header).toContain('12.3s');
    expect(header).toContain('chaos');

    const progress = lineWith(frame, '%');
    expect(progress).toContain('64%');
    expect(progress).toContain('settled 640/1,000');
    expect(progress).toContain('placed 800/1,000');

    expect(frame).toMatch(/^placed\s+800\s+120\/s/m);
    expect(frame).toMatch(/^published\s+1,480\s+310\/s/m);
    expect(frame).toMatch(/^settled\s+640\s+85\/s/m);
    expect(frame).toMatch(/^webhooks\s+212\s+4\.5\/s/m);

    expect(lineWith(frame, 'outbox backlog')).toMatch(/outbox backlog\s+12\b/);
    expect(lineWith(frame, 'consumer lag')).toMatch(/consumer lag\s+47\b/);
    expect(lineWith(frame, 'retries')).toMatch(/retries\s+3\b/);
    expect(lineWith(frame, 'DLQ')).toMatch(/DLQ\s+0\b/);

    const outcomes = lineWith(frame, 'outcomes');
    for (const count of ['succeeded 520', 'failed 97', 'cancelled 6', 'refunded 2', 'pending 41', 'requires_action 15']) {
      expect(outcomes).toContain(count);
    }
    expect(lineWith(frame, 'compensated')).toMatch(/compensated\s+95\b/);
    expect(lineWith(frame, 'duplicates absorbed')).toMatch(/worker 23\s+webhook 9/);

    expect(lineWith(frame, '● publisher')).toMatch(/ready\s+pid 4242\s+kills 2\s+restarts 2\s+unexpected exits 0/);
    expect(lineWith(frame, '● worker')).toMatch(/starting\s+pid 4311\s+kills 3\s+restarts 3\s+unexpected exits 1/);
    expect(lineWith(frame, '● receiver')).toMatch(/stopped\s+pid –\s+kills 0/);

    // Only the five newest happenings fit.
    expect(frame).toContain('11.9s killed worker (pid 4250)');
    expect(frame).toContain('5.2s killed worker (pid 4101)');
    expect(frame).not.toContain('3.4s publisher ready');
  });

  it('fits a 24-row, 100-column terminal', () => {
    const lines = stripVTControlCharacters(frameOf(chaosRun)).split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('drops the chaos badge, flags dead letters and a role that is down', () => {
    chalk.level = 1;
    const coloured = frameOf(quietRunWithTrouble);
    const frame = stripVTControlCharacters(coloured);

    expect(lineWith(frame, 'paymentsctl dev')).not.toContain('chaos');
    expect(lineWith(frame, 'paymentsctl dev')).toContain('draining');
    // 999 of 1,000 is not done yet.
    expect(lineWith(frame, '%')).toContain('99%');
    expect(lineWith(frame, 'DLQ')).toMatch(/DLQ\s+7\b/);
    expect(lineWith(frame, '● receiver')).toMatch(/down\s+pid –\s+kills 0\s+restarts 1\s+unexpected exits 2/);
    expect(frame).toContain('28.0s receiver exited unexpectedly (code 1)');

    // Red (SGR 31) on the dead-letter count and on the down role, not on a healthy one.
    const red = (text: string) => new RegExp(`\\u001b\\[31m[^\\u001b]*${text}`);
    expect(coloured).toMatch(red('7'));
    expect(coloured).toMatch(red('down'));
    expect(coloured).not.toMatch(red('ready'));
  });
});

/** Enough of a TTY stream for ink: it writes frames, asks the size and listens for resizes. */
class FakeTerminal extends EventEmitter {
  readonly columns = 100;
  readonly rows = 24;
  readonly chunks: string[] = [];
  write = (chunk: string): boolean => {
    this.chunks.push(chunk);
    return true;
  };
  get output(): string {
    return stripVTControlCharacters(this.chunks.join(''));
  }
}

describe('startLiveView', () => {
  it('draws nothing before the first snapshot and leaves the latest one on screen when stopped', () => {
    const terminal = new FakeTerminal();
    const view = startLiveView({ stdout: terminal as unknown as NodeJS.WriteStream });
    expect(terminal.chunks).toEqual([]);

    view.update(chaosRun);
    view.update({ ...quietRunWithTrouble, phase: 'done', orders: { planned: 1_000, placed: 1_000, terminal: 1_000 } });
    view.stop();

    // In CI ink draws only the final frame, on unmount; either way that frame is the latest snapshot.
    expect(terminal.output).toContain('100%');
    expect(lineWith(terminal.output, 'paymentsctl dev')).toContain('done');
    expect(terminal.output).toMatch(/DLQ\s+7\b/);

    const written = terminal.chunks.length;
    view.update(chaosRun);
    view.stop();
    expect(terminal.chunks.length).toBe(written);
  });

  it('stopping before any snapshot draws nothing', () => {
    const terminal = new FakeTerminal();
    const view = startLiveView({ stdout: terminal as unknown as NodeJS.WriteStream });
    view.stop();
    expect(terminal.chunks).toEqual([]);
  });
});
