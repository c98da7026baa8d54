import { describe, expect, it } from 'vitest';
import { parseStart, parseTime, startOffset } from '../../src/ops/tail/start.js';
import { matchesEnvelope, matchesValue, noFilters, parseHeaderFilter, parseWhere } from '../../src/ops/tail/filters.js';
import { globMatches } from '../../src/ops/tail/glob.js';
import { toTailRecord, type RawMessage } from '../../src/ops/tail/record.js';
import { resolveTopics } from '../../src/ops/tail/tail.js';
import { UsageError } from '../../src/errors.js';

const NOW = Date.parse('2026-12-02T03:00:00.000Z');

describe('--from', () => {
  it('beginning, end, offsets, the last N, ISO times and durations ago', () => {
    expect(parseStart('beginning', NOW)).toEqual({ kind: 'beginning' });
    expect(parseStart('end', NOW)).toEqual({ kind: 'end' });
    expect(parseStart('42', NOW)).toEqual({ kind: 'offset', offset: 42n });
    expect(parseStart('-5', NOW)).toEqual({ kind: 'last', count: 5n });
    expect(parseStart('15m', NOW)).toEqual({ kind: 'time', atMs: NOW - 15 * 60_000 });
    expect(parseStart('2026-12-01T10:00:00Z', NOW)).toEqual({ kind: 'time', atMs: Date.parse('2026-12-01T10:00:00Z') });
    expect(() => parseStart('yesterday', NOW)).toThrow(UsageError);
    expect(parseTime('May', NOW)).toBeUndefined();
  });

  it('start offsets stay inside what the log holds', () => {
    const bounds = { partition: 0, low: 10n, high: 20n };
    expect(startOffset({ kind: 'beginning' }, bounds)).toBe(10n);
    expect(startOffset({ kind: 'end' }, bounds)).toBe(20n);
    expect(startOffset({ kind: 'last', count: 3n }, bounds)).toBe(17n);
    expect(startOffset({ kind: 'last', count: 300n }, bounds)).toBe(10n);
    expect(startOffset({ kind: 'offset', offset: 5n }, bounds)).toBe(10n);
    expect(startOffset({ kind: 'offset', offset: 50n }, bounds)).toBe(20n);
    expect(startOffset({ kind: 'time', atMs: 0 }, { ...bounds, atTime: 14n })).toBe(14n);
    expect(startOffset({ kind: 'time', atMs: 0 }, bounds)).toBe(20n);
  });
});

const message = (over: Partial<RawMessage> = {}): RawMessage => ({
  topic: 'p.orders.placed',
  partition: 1,
  offset: '7',
  timestamp: String(NOW),
  key: Buffer.from('ord_42'),
  value: Buffer.from('{"order_id":"ord_42","customer":{"id":"cus_9"},"amount":1200}'),
  headers: {
    ce_id: Buffer.from('e-1'),
    ce_type: Buffer.from('orders.placed'),
    ce_source: Buffer.from('shop'),
    'content-type': Buffer.from('application/json'),
  },
  ...over,
});

describe('records', () => {
  it('decodes CloudEvents attributes from ce_* headers and parses JSON data', () => {
    const record = toTailRecord(message());
    expect(record.ce).toEqual({ id: 'e-1', type: 'orders.placed', source: 'shop', datacontenttype: 'application/json' });
    expect(record.data).toEqual({ order_id: 'ord_42', customer: { id: 'cus_9' }, amount: 1200 });
    expect(record.valueFormat).toBe('json');
    expect(record.timestamp).toBe('2026-12-02T03:00:00.000Z');
    expect(Object.keys(record).slice(0, 7)).toEqual(['topic', 'partition', 'offset', 'timestamp', 'key', 'headers', 'ce']);
  });

  it('text that is not JSON stays text; bytes that are not UTF-8 become base64, key and headers too; a tombstone is null', () => {
    expect(toTailRecord(message({ value: Buffer.from('hello\u0000') }))).toMatchObject({ data: 'hello\u0000', valueFormat: 'text' });
    const binary = toTailRecord(
      message({ value: Buffer.from([0xff, 0x00, 0xc3]), key: Buffer.from([0xc3]), headers: { raw: Buffer.from([0xfe]) } }),
    );
    expect(binary).toMatchObject({ data: null, valueFormat: 'binary', dataBase64: Buffer.from([0xff, 0x00, 0xc3]).toString('base64') });
    expect(binary.key).toEqual({ base64: 'ww==' });
    expect(binary.headers.raw).toEqual({ base64: '/g==' });
    expect(binary.ce).toBeUndefined();
    expect(toTailRecord(message({ value: null }))).toMatchObject({ data: null, valueFormat: 'null' });
  });

  it('dead-letter headers become deadLetter on a .dlq topic, retry headers retry on a .retry.n topic', () => {
    const headers = {
      paymentsctl_original_topic: 'p.orders.placed',
      paymentsctl_original_partition: '2',
      paymentsctl_original_offset: '99',
      paymentsctl_original_timestamp: String(NOW - 1000),
      paymentsctl_attempts: '4',
      paymentsctl_error_kind: 'transient',
      paymentsctl_dlq_reason: 'retries_exhausted',
      paymentsctl_error: 'Stripe 500',
      paymentsctl_due_at: String(NOW + 1000),
    };
    expect(toTailRecord(message({ topic: 'p.orders.placed.dlq', headers })).deadLetter).toEqual({
      originalTopic: 'p.orders.placed',
      originalPartition: 2,
      originalOffset: '99',
      originalTimestamp: new Date(NOW - 1000).toISOString(),
      attempts: 4,
      errorKind: 'transient',
      reason: 'retries_exhausted',
      error: 'Stripe 500',
    });
    expect(toTailRecord(message({ topic: 'p.orders.placed.retry.2', headers })).retry).toEqual({
      attempts: 4,
      dueAt: new Date(NOW + 1000).toISOString(),
      error: 'Stripe 500',
    });
  });
});

describe('filters', () => {
  it('globs', () => {
    expect(globMatches('ord_4*', 'ord_42')).toBe(true);
    expect(globMatches('ord_?', 'ord_42')).toBe(false);
    expect(globMatches('a.b', 'aXb')).toBe(false);
  });

  it('key, type, headers and partition on the envelope', () => {
    const m = message();
    expect(matchesEnvelope({ ...noFilters(), key: 'ord_4*' }, m)).toBe(true);
    expect(matchesEnvelope({ ...noFilters(), key: 'ord_5*' }, m)).toBe(false);
    expect(matchesEnvelope({ ...noFilters(), type: 'orders.*' }, m)).toBe(true);
    expect(matchesEnvelope({ ...noFilters(), type: 'payments.*' }, m)).toBe(false);
    expect(matchesEnvelope({ ...noFilters(), headers: [parseHeaderFilter('ce_source=sh*')] }, m)).toBe(true);
    expect(matchesEnvelope({ ...noFilters(), headers: [parseHeaderFilter('ce_source=shop'), parseHeaderFilter('missing=*')] }, m)).toBe(
      false,
    );
    expect(matchesEnvelope({ ...noFilters(), partitions: [0, 2] }, m)).toBe(false);
    expect(matchesEnvelope({ ...noFilters(), partitions: [1] }, m)).toBe(true);
  });

  it('--where on dotted paths and --grep on the value', () => {
    const m = message();
    const record = toTailRecord(m);
    expect(matchesValue({ ...noFilters(), where: [parseWhere('customer.id=cus_9')] }, record, m.value)).toBe(true);
    expect(matchesValue({ ...noFilters(), where: [parseWhere('amount=12*')] }, record, m.value)).toBe(true);
    expect(matchesValue({ ...noFilters(), where: [parseWhere('customer.id=cus_1')] }, record, m.value)).toBe(false);
    expect(matchesValue({ ...noFilters(), where: [parseWhere('nope.deeper=x')] }, record, m.value)).toBe(false);
    expect(matchesValue({ ...noFilters(), grep: 'cus_9' }, record, m.value)).toBe(true);
    expect(matchesValue({ ...noFilters(), grep: 'cus_8' }, record, m.value)).toBe(false);
    expect(() => parseWhere('=x')).toThrow(UsageError);
    expect(() => parseHeaderFilter('novalue')).toThrow(UsageError);
  });
});

describe('topics to tail', () => {
  const existing = [
    'p.orders.placed',
    'p.orders.placed.dlq',
    'p.orders.placed.retry.1',
    'p.payments.failed',
    'q.orders.placed',
    '__consumer_offsets',
  ];
  it('names and globs take the prefix; --all and --dlq stay under it', () => {
    expect(resolveTopics(existing, { prefix: 'p.', topics: ['orders.placed'] })).toEqual(['p.orders.placed']);
    expect(resolveTopics(existing, { prefix: 'p.', topics: ['orders.*'] })).toEqual([
      'p.orders.placed',
      'p.orders.placed.dlq',
      'p.orders.placed.retry.1',
    ]);
    expect(resolveTopics(existing, { prefix: 'p.', topics: [], dlq: true })).toEqual(['p.orders.placed.dlq']);
    expect(resolveTopics(existing, { prefix: 'p.', topics: [], all: true })).toHaveLength(4);
    expect(() => resolveTopics(existing, { prefix: 'p.', topics: ['nope'] })).toThrow(/does not exist/);
    expect(() => resolveTopics(existing, { prefix: 'p.', topics: [] })).toThrow(UsageError);
  });
});
