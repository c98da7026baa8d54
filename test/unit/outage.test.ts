import { describe, expect, it } from 'vitest';
import { formatMs, nextDownSince, outageOverLimit } from '../../src/outage.js';
import { isDatabaseUnavailable } from '../../src/db/unavailable.js';
import { classifyFailure } from '../../src/worker/failures.js';
import { outageLimitMs } from '../../src/config.js';

describe('outage limit', () => {
  it('remembers when each dependency stopped answering, and forgets it once it answers again', () => {
    const first = nextDownSince(new Map(), { database: 'connect ECONNREFUSED', kafka: 'ok' }, 1_000);
    expect([...first]).toEqual([['database', 1_000]]);
    const later = nextDownSince(first, { database: 'still refused', kafka: 'no answer within 2000 ms' }, 5_000);
    expect([...later]).toEqual([
      ['database', 1_000],
      ['kafka', 5_000],
    ]);
    expect([...nextDownSince(later, { database: 'ok', kafka: 'ok' }, 6_000)]).toEqual([]);
  });

  it('is exceeded only by an outage longer than the limit, and names the longest one', () => {
    const down = new Map([
      ['kafka', 50_000],
      ['database', 10_000],
    ]);
    expect(outageOverLimit(down, 40_000, 30_000)).toBeUndefined();
    expect(outageOverLimit(down, 40_001, 30_000)).toEqual({ dependency: 'database', forMs: 30_001 });
    expect(outageOverLimit(new Map(), 1e12, 1)).toBeUndefined();
  });

  it('defaults to 5 minutes, takes OUTAGE_LIMIT or --outage-limit, and refuses nonsense naming the setting', () => {
    expect(outageLimitMs({}, {})).toBe(300_000);
    expect(outageLimitMs({}, { OUTAGE_LIMIT: '30s' })).toBe(30_000);
    expect(outageLimitMs({ outageLimit: '2m' }, { OUTAGE_LIMIT: '30s' })).toBe(120_000);
    expect(() => outageLimitMs({}, { OUTAGE_LIMIT: 'soon' })).toThrow(/OUTAGE_LIMIT/);
    expect(() => outageLimitMs({ outageLimit: '10ms' }, {})).toThrow(/--outage-limit must be at least/);
  });

  it('formats durations for people', () => {
    expect(formatMs(300_000)).toBe('5m');
    expect(formatMs(95_000)).toBe('95s');
    expect(formatMs(125_000)).toBe('2m5s');
  });
});

describe('a database that is away', () => {
  const sqlError = (code: string) => Object.assign(new Error('server says no'), { code, severity: 'FATAL' });
  it('is recognised from a restart, a refused connection or a dropped one', () => {
    expect(isDatabaseUnavailable(sqlError('57P01'))).toBe(true); // terminating connection due to administrator command
    expect(isDatabaseUnavailable(sqlError('57P03'))).toBe(true); // the database system is starting up
    expect(isDatabaseUnavailable(sqlError('08006'))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })]))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('is not confused with a statement that fails on its own', () => {
    expect(isDatabaseUnavailable(sqlError('23505'))).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
  });

  it('makes the worker retry in place instead of spending the message’s retries', () => {
    expect(classifyFailure(sqlError('57P01'))).toBe('infrastructure');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('infrastructure');
    expect(classifyFailure(sqlError('40001'))).toBe('infrastructure');
    expect(classifyFailure(sqlError('23505'))).toBe('permanent');
  });
});
