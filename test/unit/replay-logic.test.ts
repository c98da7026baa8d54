import { describe, expect, it } from 'vitest';
import type { ReadMessage } from '../../src/kafka/reader.js';
import { isAllowedDestination } from '../../src/ops/replay/destinations.js';
import { chooseDeadLetterTopics } from '../../src/ops/replay/dlq.js';
import { SendPacer } from '../../src/ops/replay/rate.js';
import { ReplayHeaders, priorReplayCount, replayHeaders } from '../../src/ops/replay/replay-headers.js';
import { groupPlan, matchesSelection, toDeadLetter, type DlqSelection } from '../../src/ops/replay/selection.js';
import { replayProgressReporter } from '../../src/ui/replay.js';
import { FailureHeaders, failureHeaders } from '../../src/worker/headers.js';

const P = 'acme.';
const original = { ce_id: 'evt-1', ce_type: 'orders.placed', ce_source: 'shop', 'content-type': 'application/json', tenant: 'eu' };

function deadLetter(overrides: Partial<ReadMessage> = {}, failure: Partial<Parameters<typeof failureHeaders>[1]> = {}): ReadMessage {
  const headers = failureHeaders(original, {
    origin: { topic: `${P}orders.placed`, partition: 2, offset: '41', timestamp: 1_000 },
    consumer: 'payments',
    attempts: 4,
    error: 'Stripe said 429: rate limit',
    errorKind: 'transient',
    now: 2_000,
    deadLetterReason: 'retries_exhausted',
    ...failure,
  });
  return {
    topic: `${P}orders.placed.dlq`,
    partition: 1,
    offset: '7',
    timestamp: '5000',
    key: Buffer.from('ord-1'),
    value: Buffer.from('{"order_id":"ord-1"}'),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
    ...overrides,
  };
}

const select = (s: Partial<DlqSelection> = {}): DlqSelection => ({ topics: [], eventIds: [], ...s });
const text = (headers: Record<string, unknown>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));

describe('replay headers', () => {
  const stamp = {
    replayId: '12',
    at: new Date('2026-01-02T03:04:05Z'),
    source: { topic: `${P}orders.placed.dlq`, partition: 1, offset: '7' },
    count: 1,
  };

  it('keeps every original header byte for byte, drops the dead-letter ones, keeps the addressee, adds the replay ones', () => {
    const letter = deadLetter();
    const headers = replayHeaders(letter.headers, stamp);
    for (const name of Object.keys(original)) expect(headers[name]).toBe(letter.headers[name]);
    for (const name of [
      FailureHeaders.attempts,
      FailureHeaders.error,
      FailureHeaders.errorKind,
      FailureHeaders.deadLetterReason,
      FailureHeaders.originalTopic,
    ])
      expect(headers).not.toHaveProperty(name);
    expect(String(headers[FailureHeaders.consumer])).toBe('payments');
    expect(text(headers)).toMatchObject({
      [ReplayHeaders.id]: '12',
      [ReplayHeaders.at]: '2026-01-02T03:04:05.000Z',
      [ReplayHeaders.sourceTopic]: `${P}orders.placed.dlq`,
      [ReplayHeaders.sourcePartition]: '1',
      [ReplayHeaders.sourceOffset]: '7',
      [ReplayHeaders.count]: '1',
    });
  });

  it('a copy that failed again and is replayed again carries one set of replay headers, counted on', () => {
    const first = replayHeaders(deadLetter().headers, stamp);
    // The worker dead-letters the copy again: its headers travel on beside the new failure's.
    const again = failureHeaders(text(first), {
      origin: { topic: `${P}orders.placed`, partition: 2, offset: '90', timestamp: 3_000 },
      consumer: 'payments',
      attempts: 1,
      error: 'still broken',
      errorKind: 'permanent',
      now: 4_000,
      deadLetterReason: 'permanent_error',
    });
    expect(priorReplayCount(again)).toBe(1);
    const second = replayHeaders(again, { ...stamp, replayId: '13', count: priorReplayCount(again) + 1 });
    expect(Object.keys(second).sort()).toEqual(Object.keys(first).sort());
    expect(text(second)[ReplayHeaders.count]).toBe('2');
    expect(text(second)[ReplayHeaders.id]).toBe('13');
  });
});

describe('replay destinations', () => {
  it('allows the pipeline topics and the retry topics of consumed ones, nothing else', () => {
    expect(isAllowedDestination(`${P}orders.placed`, P)).toBe(true);
    expect(isAllowedDestination(`${P}payments.completed`, P)).toBe(true);
    expect(isAllowedDestination(`${P}orders.placed.retry.2`, P)).toBe(true);
    expect(isAllowedDestination(`${P}orders.placed.dlq`, P)).toBe(false);
    expect(isAllowedDestination(`${P}payments.checkout_session_created.retry.1`, P)).toBe(false);
    expect(isAllowedDestination(`${P}orders.placed.retry.0`, P)).toBe(false);
    expect(isAllowedDestination('orders.placed', P)).toBe(false);
    expect(isAllowedDestination(`${P}__consumer_offsets`, P)).toBe(false);
  });

  it('dead-letter topics by either name form; default every one that exists; others refused', () => {
    const existing = [`${P}orders.placed.dlq`, `${P}payments.failed.dlq`, `${P}orders.placed`];
    expect(chooseDeadLetterTopics(existing, P, [])).toEqual([`${P}orders.placed.dlq`, `${P}payments.failed.dlq`]);
    expect(chooseDeadLetterTopics(existing, P, ['orders.placed', 'payments.failed.dlq'])).toEqual([
      `${P}orders.placed.dlq`,
      `${P}payments.failed.dlq`,
    ]);
    expect(() => chooseDeadLetterTopics(existing, P, ['payments.checkout_session_created'])).toThrow(
      /not one of the pipeline's dead-letter topics/,
    );
    expect(() => chooseDeadLetterTopics(existing, P, ['orders.cancelled'])).toThrow(/does not exist/);
  });
});

describe('replay selection', () => {
  const letter = toDeadLetter(deadLetter());

  it('reads what it needs from the dead-letter headers', () => {
    expect(letter).toMatchObject({
      originalTopic: `${P}orders.placed`,
      originalPartition: 2,
      eventId: 'evt-1',
      type: 'orders.placed',
      key: 'ord-1',
      errorKind: 'transient',
      reason: 'retries_exhausted',
    });
  });

  it('a dead letter without an original-topic header goes back to its topic without .dlq', () => {
    expect(toDeadLetter(deadLetter({ headers: { ce_id: Buffer.from('x') } })).originalTopic).toBe(`${P}orders.placed`);
  });

  it('every filter must match', () => {
    expect(matchesSelection(select(), letter)).toBe(true);
    expect(matchesSelection(select({ sinceMs: 5000, untilMs: 5000 }), letter)).toBe(true);
    expect(matchesSelection(select({ sinceMs: 5001 }), letter)).toBe(false);
    expect(matchesSelection(select({ untilMs: 4999 }), letter)).toBe(false);
    expect(matchesSelection(select({ key: 'ord-*' }), letter)).toBe(true);
    expect(matchesSelection(select({ key: 'trip-*' }), letter)).toBe(false);
    expect(matchesSelection(select({ type: 'orders.*' }), letter)).toBe(true);
    expect(matchesSelection(select({ type: 'payments.*' }), letter)).toBe(false);
    expect(matchesSelection(select({ errorKind: 'transient' }), letter)).toBe(true);
    expect(matchesSelection(select({ errorKind: 'permanent' }), letter)).toBe(false);
    expect(matchesSelection(select({ reason: 'retries_*' }), letter)).toBe(true);
    expect(matchesSelection(select({ reason: '*429*' }), letter)).toBe(true);
    expect(matchesSelection(select({ reason: 'permanent_error' }), letter)).toBe(false);
    expect(matchesSelection(select({ eventIds: ['evt-0', 'evt-1'] }), letter)).toBe(true);
    expect(matchesSelection(select({ eventIds: ['evt-0'] }), letter)).toBe(false);
    expect(matchesSelection(select({ key: 'ord-*', errorKind: 'permanent' }), letter)).toBe(false);
  });

  it('the plan groups by original topic × error kind × reason, with counts, what was replayed before and a sample', () => {
    const letters = [
      toDeadLetter(deadLetter({ offset: '1' })),
      toDeadLetter(deadLetter({ offset: '2' })),
      toDeadLetter(deadLetter({ offset: '3' }, { errorKind: 'invalid_message', deadLetterReason: 'invalid_message', error: 'not JSON' })),
    ];
    const groups = groupPlan(letters, (l) => l.message.offset === '2');
    expect(groups).toEqual([
      expect.objectContaining({
        originalTopic: `${P}orders.placed`,
        errorKind: 'invalid_message',
        reason: 'invalid_message',
        count: 1,
        alreadyReplayed: 0,
      }),
      expect.objectContaining({
        originalTopic: `${P}orders.placed`,
        errorKind: 'transient',
        reason: 'retries_exhausted',
        count: 2,
        alreadyReplayed: 1,
      }),
    ]);
    expect(groups[1]!.sample).toMatchObject({ dlq: `${P}orders.placed.dlq`, offset: '1', key: 'ord-1', eventId: 'evt-1' });
  });
});

describe('replay rate', () => {
  it('spaces sends evenly at the rate: the n-th waits until start + n/rate', async () => {
    let now = 1_000;
    const waits: number[] = [];
    const pacer = new SendPacer(
      4,
      () => now,
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    for (let i = 0; i < 5; i++) await pacer.next();
    expect(waits).toEqual([250, 250, 250, 250]);
    expect(now).toBe(2_000);
  });

  it('time spent sending counts against the wait, and a slow send is not made up for with a burst after it', async () => {
    let now = 0;
    const waits: number[] = [];
    const pacer = new SendPacer(
      10,
      () => now,
      async (ms) => void (waits.push(ms), (now += ms)),
    );
    await pacer.next();
    now += 60; // the send took 60 ms
    await pacer.next();
    now += 500; // a slow one
    await pacer.next();
    await pacer.next();
    expect(waits).toEqual([40, 100]);
  });
});

describe('replay progress off a terminal', () => {
  it('writes a line at most every interval, and the final count at the end', () => {
    const lines: string[] = [];
    const progress = replayProgressReporter((text) => lines.push(text), false, 60_000);
    for (let done = 1; done <= 62; done++) progress.update({ done, total: 62 });
    progress.done();
    expect(lines.map((line) => /(\d+\/\d+) sent\n$/.exec(line)?.[1])).toEqual(['1/62', '62/62']);
  });

  it('adds nothing when the last line already showed the end', () => {
    const lines: string[] = [];
    const progress = replayProgressReporter((text) => lines.push(text), false, 60_000);
    progress.update({ done: 1, total: 1 });
    progress.done();
    expect(lines).toHaveLength(1);
  });
});
