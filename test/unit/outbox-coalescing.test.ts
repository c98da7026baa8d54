import { describe, expect, it } from 'vitest';
import { AdaptiveLinger } from '../../src/outbox/linger.js';
import { MarkQueue } from '../../src/outbox/mark-queue.js';

describe('AdaptiveLinger', () => {
  it('does not wait for the first claim or after a quiet spell', () => {
    const linger = new AdaptiveLinger(3);
    expect(linger.delayMs(0)).toBe(0);
    linger.observe(1, 0, false);
    linger.observe(2, 1, false); // 2 rows/ms
    expect(linger.delayMs(1.5)).toBeGreaterThan(0);
    expect(linger.delayMs(500)).toBe(0);
  });

  it('waits only as long as it takes for the target to be waiting, at most the maximum', () => {
    const steady = new AdaptiveLinger(3, 5);
    for (let t = 0; t <= 20; t += 2) steady.observe(2, t, false); // 1 row/ms
    expect(steady.delayMs(21)).toBeCloseTo(3, 5); // 5 rows take 5 ms; 1 ms gone, at most 3
    expect(steady.delayMs(23)).toBeCloseTo(2, 5); // 3 ms gone: 2 more
    expect(steady.delayMs(25.5)).toBe(0); // enough rows are waiting already
  });

  it('does not wait when rounds are slow enough to coalesce by themselves, or at a trickle', () => {
    const busy = new AdaptiveLinger(3, 5);
    for (let t = 0; t <= 80; t += 10) busy.observe(10, t, false); // 10 rows per 10 ms round
    expect(busy.delayMs(90)).toBe(0); // the next claim, after a 10 ms send, finds 10 waiting

    const trickle = new AdaptiveLinger(3, 5);
    for (let t = 0; t <= 80; t += 20) trickle.observe(1, t, false); // 50 rows/s
    expect(trickle.delayMs(81)).toBe(0);
  });

  it('never waits behind a full batch (a backlog) or when turned off', () => {
    const backlog = new AdaptiveLinger(3);
    backlog.observe(2000, 0, true);
    backlog.observe(2000, 5, true);
    expect(backlog.delayMs(6)).toBe(0);

    const off = new AdaptiveLinger(0);
    off.observe(5, 0, false);
    off.observe(5, 1, false);
    expect(off.delayMs(2)).toBe(0);
  });

  it('forgets the rate seen before a long gap', () => {
    const linger = new AdaptiveLinger(3);
    linger.observe(10, 0, false);
    linger.observe(10, 2, false);
    linger.observe(1, 1000, false); // one row after a second
    expect(linger.delayMs(1001)).toBe(0);
  });
});

describe('MarkQueue', () => {
  it('marks what was queued during a running mark in one statement, in order', async () => {
    const statements: string[][] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const queue = new MarkQueue({
      mark: async (ids) => {
        statements.push([...ids]);
        if (statements.length === 1) await first;
      },
      retry: async () => true,
    });
    const marked: string[] = [];
    queue.add(['1', '2'], () => marked.push('a'));
    queue.add(['3'], () => marked.push('b'));
    queue.add(['4', '5'], () => marked.push('c'));
    release();
    await queue.settled();
    expect(statements).toEqual([
      ['1', '2'],
      ['3', '4', '5'],
    ]);
    expect(marked).toEqual(['a', 'b', 'c']);
  });

  it('retries a failed mark, and reports nothing marked when it gives up', async () => {
    let attempts = 0;
    const retried: number[] = [];
    const queue = new MarkQueue({
      mark: async () => {
        attempts++;
        if (attempts < 3) throw new Error('database down');
      },
      retry: async (_error, failures) => {
        retried.push(failures);
        return true;
      },
    });
    let marked = false;
    queue.add(['1'], () => (marked = true));
    await queue.settled();
    expect({ attempts, retried, marked }).toEqual({ attempts: 3, retried: [0, 1], marked: true });

    const givingUp = new MarkQueue({
      mark: async () => {
        throw new Error('database down');
      },
      retry: async () => false,
    });
    let gaveUpMarked = false;
    givingUp.add(['2'], () => (gaveUpMarked = true));
    await givingUp.settled();
    expect(gaveUpMarked).toBe(false);
    // It keeps working after giving up on a round.
    let later = false;
    givingUp.add(['3'], () => (later = true));
    await givingUp.settled();
    expect(later).toBe(false);
  });
});
