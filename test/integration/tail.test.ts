import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { inject } from 'vitest';
import { createKafka } from '../../src/kafka/client.js';
import type { TailRecord } from '../../src/ops/tail/record.js';
import { BIN, runCli } from '../helpers/cli.js';
import { createTopics, uniquePrefix } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/** `tail` on a real broker: starts, filters, output byte for byte, dead letters, binary values, no group left. */
describe('paymentsctl tail', () => {
  const { kafkaBrokers } = inject('stack');
  const prefix = uniquePrefix();
  const topic = `${prefix}orders.placed`;
  const dlq = `${prefix}orders.placed.dlq`;
  const env = { KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: prefix };
  const kafka = createKafka({ brokers: kafkaBrokers.split(',') });
  const admin = kafka.admin();
  const producer = kafka.producer();
  // Recent enough that the topic's retention keeps them; whole seconds so ISO times round-trip.
  const T0 = Math.floor((Date.now() - 10 * 3_600_000) / 1000) * 1000;
  const HOUR = 3_600_000;

  const ceHeaders = (id: string, type = 'orders.placed') => ({
    ce_specversion: '1.0',
    ce_id: id,
    ce_type: type,
    ce_source: 'shop',
    ce_time: new Date(T0).toISOString(),
    'content-type': 'application/json',
  });
  // Six orders, two per partition, an hour apart: ord-0 at T0 … ord-5 at T0 + 5 h.
  const orders = Array.from({ length: 6 }, (_, i) => ({
    partition: i % 3,
    key: `ord-${i}`,
    timestamp: String(T0 + i * HOUR),
    value: JSON.stringify({ order_id: `ord-${i}`, amount: 1000 + i, customer: { id: i % 2 ? 'cus_odd' : 'cus_even' } }),
    headers: { ...ceHeaders(`evt-${i}`), tenant: i < 3 ? 'acme-eu' : 'acme-us' },
  }));

  const tail = async (args: string[]) => {
    const result = await runCli(['tail', ...args], env);
    if (result.exitCode !== 0) throw new Error(`tail ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
    return result;
  };
  const tailJson = async (args: string[]) =>
    (await tail([...args, '--json'])).stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TailRecord);
  const keys = (records: TailRecord[]) => records.map((r) => r.key).sort();
  const tailGroups = async () => (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith('paymentsctl-tail'));

  beforeAll(async () => {
    await createTopics(kafkaBrokers, [topic, dlq]);
    await admin.connect();
    await producer.connect();
    await producer.send({ topic, messages: orders });
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('from the beginning: every message, CloudEvents decoded, headers and values as they were written', async () => {
    const records = await tailJson([`orders.placed`, '--from', 'beginning']);
    expect(keys(records)).toEqual(orders.map((o) => o.key));
    for (const sent of orders) {
      const got = records.find((r) => r.key === sent.key);
      expect(got).toMatchObject({
        topic,
        partition: sent.partition,
        timestamp: new Date(Number(sent.timestamp)).toISOString(),
        valueFormat: 'json',
      });
      expect(got?.headers).toEqual(sent.headers);
      expect(JSON.stringify(got?.data)).toBe(sent.value);
      expect(got?.ce).toEqual({
        specversion: '1.0',
        id: sent.headers.ce_id,
        type: 'orders.placed',
        source: 'shop',
        time: sent.headers.ce_time,
        datacontenttype: 'application/json',
      });
    }
    // per partition in offset order
    const p0 = records.filter((r) => r.partition === 0).map((r) => r.offset);
    expect(p0).toEqual(['0', '1']);
  });

  it('--from end shows nothing and exits once caught up; -N is the last N of each partition', async () => {
    expect((await tailJson(['orders.placed', '--from', 'end'])).length).toBe(0);
    expect(keys(await tailJson(['orders.placed', '--from', '-1']))).toEqual(['ord-3', 'ord-4', 'ord-5']);
  });

  it('--from a time starts at the offsets for that time; --until ends at one', async () => {
    const from = new Date(T0 + 2.5 * HOUR).toISOString();
    expect(keys(await tailJson(['orders.placed', '--from', from]))).toEqual(['ord-3', 'ord-4', 'ord-5']);
    const until = new Date(T0 + 3.5 * HOUR).toISOString();
    expect(keys(await tailJson(['orders.placed', '--from', 'beginning', '--until', until]))).toEqual(['ord-0', 'ord-1', 'ord-2', 'ord-3']);
    expect(keys(await tailJson(['orders.placed', '--from', '0']))).toEqual(orders.map((o) => o.key));
  });

  it('filters: --key, --type, --header, --partition, --where, --grep, --count', async () => {
    const all = ['orders.placed', '--from', 'beginning'];
    expect(keys(await tailJson([...all, '--key', 'ord-[!]*']))).toEqual([]);
    expect(keys(await tailJson([...all, '--key', 'ord-4']))).toEqual(['ord-4']);
    expect(keys(await tailJson([...all, '--type', 'orders.*']))).toHaveLength(6);
    expect(keys(await tailJson([...all, '--type', 'payments.*']))).toEqual([]);
    expect(keys(await tailJson([...all, '--header', 'tenant=*-us']))).toEqual(['ord-3', 'ord-4', 'ord-5']);
    expect(keys(await tailJson([...all, '--header', 'tenant=*-us', '--header', 'ce_id=evt-4']))).toEqual(['ord-4']);
    expect(keys(await tailJson([...all, '--partition', '1']))).toEqual(['ord-1', 'ord-4']);
    expect(keys(await tailJson([...all, '--partition', '0,2']))).toEqual(['ord-0', 'ord-2', 'ord-3', 'ord-5']);
    expect(keys(await tailJson([...all, '--where', 'customer.id=cus_odd']))).toEqual(['ord-1', 'ord-3', 'ord-5']);
    expect(keys(await tailJson([...all, '--where', 'amount=1002']))).toEqual(['ord-2']);
    expect(keys(await tailJson([...all, '--grep', '"amount":1005']))).toEqual(['ord-5']);
    expect(await tailJson([...all, '--count', '2'])).toHaveLength(2);
  });

  it('--dlq decodes the dead-letter headers; a binary value and key come out as base64, text that is not JSON as text', async () => {
    const binary = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff, 0x00]);
    await producer.send({
      topic: dlq,
      messages: [
        {
          key: 'ord-dead',
          partition: 0,
          value: '{"order_id":"ord-dead"}',
          headers: {
            ...ceHeaders('evt-dead'),
            paymentsctl_original_topic: topic,
            paymentsctl_original_partition: '2',
            paymentsctl_original_offset: '17',
            paymentsctl_original_timestamp: String(T0),
            paymentsctl_attempts: '4',
            paymentsctl_error_kind: 'transient',
            paymentsctl_dlq_reason: 'retries_exhausted',
            paymentsctl_error: 'Stripe answered 500',
            paymentsctl_failed_at: '2026-01-01T00:01:00.000Z',
          },
        },
        { key: Buffer.from([0xff, 0xfe]), partition: 1, value: binary, headers: { raw: Buffer.from([0xc3, 0x28]) } },
        { key: 'ord-text', partition: 2, value: 'plain \u001b[31mred\u001b[0m text' },
      ],
    });
    const records = await tailJson(['--dlq', '--from', 'beginning']);
    expect(records).toHaveLength(3);
    const dead = records.find((r) => r.key === 'ord-dead');
    expect(dead?.deadLetter).toEqual({
      originalTopic: topic,
      originalPartition: 2,
      originalOffset: '17',
      originalTimestamp: new Date(T0).toISOString(),
      attempts: 4,
      errorKind: 'transient',
      reason: 'retries_exhausted',
      error: 'Stripe answered 500',
      failedAt: '2026-01-01T00:01:00.000Z',
    });
    const bin = records.find((r) => r.partition === 1);
    expect(bin).toMatchObject({ valueFormat: 'binary', data: null, key: { base64: Buffer.from([0xff, 0xfe]).toString('base64') } });
    expect(Buffer.from(bin?.dataBase64 ?? '', 'base64').equals(binary)).toBe(true);
    expect(bin?.headers.raw).toEqual({ base64: Buffer.from([0xc3, 0x28]).toString('base64') });
    expect(records.find((r) => r.key === 'ord-text')).toMatchObject({ valueFormat: 'text', data: 'plain \u001b[31mred\u001b[0m text' });

    // On a terminal-style line the escape sequence is shown escaped, never sent raw.
    const lines = (await tail(['--dlq', '--from', 'beginning'])).stdout;
    expect(lines).not.toContain('\u001b[31m');
    expect(lines).toContain('dead letter: retries_exhausted (transient, 4 attempts)');
    expect(lines).toContain('<binary, base64 3q2+7/8A>');
  });

  it('globs and --all take the prefix; an unknown topic is a usage error', async () => {
    expect((await tailJson(['orders.*', '--from', 'beginning'])).length).toBe(9);
    expect((await tailJson(['--all', '--from', 'beginning'])).length).toBe(9);
    const missing = await runCli(['tail', 'nope'], env);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(`topic "${prefix}nope" does not exist`);
  });

  it('--follow shows messages written after it started, stops at --count, and leaves no group behind', async () => {
    const follow = execa(process.execPath, [BIN, 'tail', 'orders.placed', '--from', 'end', '--follow', '--count', '2', '--json'], {
      env: { ...process.env, ...env },
      reject: false,
    });
    let out = '';
    follow.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor('the tail to join its group', async () => (await tailGroups()).length > 0);
    await producer.send({
      topic,
      messages: [
        { key: 'ord-new-1', value: '{}' },
        { key: 'ord-new-2', value: '{}' },
      ],
    });
    const result = await follow;
    expect(result.exitCode).toBe(0);
    expect(
      keys(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as TailRecord),
      ),
    ).toEqual(['ord-new-1', 'ord-new-2']);
    expect(await tailGroups()).toEqual([]);
  });

  it('Ctrl-C ends a --follow: the temporary group is deleted, nothing was committed', async () => {
    const follow = execa(process.execPath, [BIN, 'tail', 'orders.placed', '--follow'], { env: { ...process.env, ...env }, reject: false });
    let err = '';
    follow.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    await waitFor('the tail to join its group', async () => (await tailGroups()).length > 0);
    follow.kill('SIGINT');
    const result = await follow;
    expect(result.exitCode).toBe(0);
    expect(err).toContain('no offsets committed, temporary group deleted');
    expect(await tailGroups()).toEqual([]);
  });
});
