import { createHmac } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { RunningWebhookService } from '../../src/webhook/service.js';
import type { TestDatabase } from '../helpers/db.js';
import { consumeUntil, createTopics, uniquePrefix } from '../helpers/kafka.js';
import { startPublisher } from '../helpers/publisher.js';
import { checkoutSession, deliver, post, stripeEvent, stripeSignature } from '../helpers/webhook.js';
import { startTestWebhookService, startWebhookFixture, type WebhookFixture } from '../helpers/webhook-service.js';

const SECRET = 'whsec_security_suite_current_secret';
const OTHER = 'whsec_security_suite_somebody_else';
const MAX_BODY = 64 * 1024;

describe('webhook-serve: no forged, tampered, replayed or malformed request gets through', () => {
  const { kafkaBrokers } = inject('stack');
  let db: TestDatabase;
  let pool: pg.Pool;
  let fixture: WebhookFixture;
  let service: RunningWebhookService;
  let hook: string;
  let trip = 0;

  beforeAll(async () => {
    fixture = await startWebhookFixture({ secrets: [SECRET], maxBodyBytes: MAX_BODY });
    ({ db, pool, service, hook } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE outbox, webhook_events, payments');
  });

  /** A paid Checkout Session event for a new trip, as a string exactly as it will be signed. */
  function paidSession(): { event: Record<string, unknown>; payload: string; tripId: string } {
    const tripId = `trip-sec-${++trip}`;
    const event = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ metadata: { trip_id: tripId, user_id: 'u-1', driver_id: 'd-1' } }),
    );
    return { event, payload: JSON.stringify(event), tripId };
  }

  async function recorded(): Promise<{ outbox: number; webhookEvents: number; payments: number }> {
    const { rows } = await pool.query(
      'SELECT (SELECT count(*) FROM outbox)::int AS outbox, (SELECT count(*) FROM webhook_events)::int AS "webhookEvents", (SELECT count(*) FROM payments)::int AS payments',
    );
    return rows[0];
  }

  const now = () => Math.floor(Date.now() / 1000);
  const hmac = (payload: string, secret: string, t: number) => createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex');

  /** Every way a request must be refused: name → [status, reason, request]. */
  function attacks(): [string, number, string, () => Promise<{ status: number; body: Record<string, unknown> }>][] {
    const { payload } = paidSession();
    const signed = stripeSignature(payload, SECRET);
    const tampered = payload.replace('"u-1"', '"u-2"');
    const oneByte = Buffer.from(payload);
    oneByte[oneByte.length - 2] = oneByte[oneByte.length - 2]! ^ 0x20;
    const big = JSON.stringify({ ...paidSession().event, padding: 'x'.repeat(MAX_BODY) });
    const notJson = 'this is not json, but it is signed';
    const notAnEvent = JSON.stringify({ hello: 'world' });
    return [
      ['forged signature', 400, 'bad_signature', () => post(hook, payload, { 'stripe-signature': `t=${now()},v1=${'0'.repeat(64)}` })],
      ['a field of the body changed', 400, 'bad_signature', () => post(hook, tampered, { 'stripe-signature': signed })],
      ['one byte of the body changed', 400, 'bad_signature', () => post(hook, oneByte, { 'stripe-signature': signed })],
      [
        'stale timestamp',
        400,
        'stale_timestamp',
        () => post(hook, payload, { 'stripe-signature': stripeSignature(payload, SECRET, now() - 301) }),
      ],
      [
        'far-future timestamp',
        400,
        'stale_timestamp',
        () => post(hook, payload, { 'stripe-signature': stripeSignature(payload, SECRET, now() + 3600) }),
      ],
      ['missing header', 400, 'missing_header', () => post(hook, payload)],
      [
        'header with only v0',
        400,
        'no_v1_signature',
        () => post(hook, payload, { 'stripe-signature': `t=${now()},v0=${hmac(payload, SECRET, now())}` }),
      ],
      [
        'valid signature made with another secret',
        400,
        'bad_signature',
        () => post(hook, payload, { 'stripe-signature': stripeSignature(payload, OTHER) }),
      ],
      ['garbage header', 400, 'malformed_header', () => post(hook, payload, { 'stripe-signature': 'v1=abc,t=yesterday' })],
      [
        'oversized body, validly signed',
        413,
        'body_too_large',
        () => post(hook, big, { 'stripe-signature': stripeSignature(big, SECRET) }),
      ],
      [
        'validly signed body that is not JSON',
        400,
        'invalid_payload',
        () => post(hook, notJson, { 'stripe-signature': stripeSignature(notJson, SECRET) }),
      ],
      [
        'validly signed JSON that is not an event',
        400,
        'invalid_payload',
        () => post(hook, notAnEvent, { 'stripe-signature': stripeSignature(notAnEvent, SECRET) }),
      ],
    ];
  }

  it('answers each attack with its status and reason, and records nothing', async () => {
    for (const [name, status, reason, send] of attacks()) {
      const reply = await send();
      expect(reply.status, name).toBe(status);
      expect((reply.body.error as { reason: string }).reason, name).toBe(reason);
    }
    expect(await recorded()).toEqual({ outbox: 0, webhookEvents: 0, payments: 0 });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    for (const reason of [
      'bad_signature',
      'stale_timestamp',
      'missing_header',
      'no_v1_signature',
      'malformed_header',
      'body_too_large',
      'invalid_payload',
    ]) {
      expect(metrics, reason).toMatch(new RegExp(`paymentsctl_webhook_rejected_total\\{reason="${reason}"[^}]*\\} [1-9]`));
    }
  });

  it('other methods on the path are 405, other paths 404, and nothing is recorded', async () => {
    const { payload } = paidSession();
    const headers = { 'stripe-signature': stripeSignature(payload, SECRET) };
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const reply = await post(hook, payload, headers, method);
      expect(reply.status, method).toBe(405);
      expect(reply.headers.get('allow')).toBe('POST');
    }
    expect((await post(`${service.url}/webhook/stripe/extra`, payload, headers)).status).toBe(404);
    expect((await post(`${service.url}/webhook`, payload, headers)).status).toBe(404);
    expect((await post(`${service.url}/`, payload, headers, 'GET')).status).toBe(404);
    expect(await recorded()).toEqual({ outbox: 0, webhookEvents: 0, payments: 0 });
  });

  it('the same delivery twice (and ten times at once): 2xx each time, one event recorded, one pipeline event', async () => {
    const { event, tripId } = paidSession();
    const first = await deliver(hook, event, SECRET);
    expect(first).toMatchObject({ status: 200, body: { received: true, outcome: 'published:payments.completed' } });
    const second = await deliver(hook, event, SECRET);
    expect(second).toMatchObject({ status: 200, body: { received: true, duplicate: true } });

    const racing = paidSession();
    const replies = await Promise.all(Array.from({ length: 10 }, () => deliver(hook, racing.event, SECRET)));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(replies.filter((r) => r.body.duplicate === true)).toHaveLength(9);

    expect(await recorded()).toEqual({ outbox: 2, webhookEvents: 2, payments: 2 });
    const { rows } = await pool.query('SELECT key, count(*)::int AS n FROM outbox GROUP BY key ORDER BY key');
    expect(rows).toEqual([tripId, racing.tripId].sort().map((key) => ({ key, n: 1 })));
    expect(await (await fetch(`${service.url}/metrics`)).text()).toMatch(/paymentsctl_webhook_duplicates_total\{[^}]*\} 10/);
  });

  it('durable before 2xx: when the write fails the answer is 5xx and nothing is half-recorded; the retry then succeeds once', async () => {
    const { event, tripId } = paidSession();
    // The outbox write is the last step of the transaction: everything before it must roll back.
    await pool.query('ALTER TABLE outbox RENAME TO outbox_away');
    let failed;
    try {
      failed = await deliver(hook, event, SECRET);
    } finally {
      await pool.query('ALTER TABLE outbox_away RENAME TO outbox');
    }
    expect(failed.status).toBe(500);
    const { rows: events } = await pool.query('SELECT count(*)::int AS n FROM webhook_events');
    expect(events[0].n).toBe(0);
    expect((await pool.query('SELECT count(*)::int AS n FROM payments')).rows[0].n).toBe(0);

    // Stripe's retry of the same event.
    const retried = await deliver(hook, event, SECRET);
    expect(retried).toMatchObject({ status: 200, body: { outcome: 'published:payments.completed' } });
    expect((await pool.query('SELECT key FROM outbox')).rows).toEqual([{ key: tripId }]);
    expect((await pool.query('SELECT status FROM payments WHERE aggregate_id = $1', [tripId])).rows).toEqual([{ status: 'succeeded' }]);
  });

  it('secret rotation: during the overlap both secrets verify, alone or side by side in one header', async () => {
    const NEW = 'whsec_security_suite_rotated_secret';
    const rotating = await startTestWebhookService(db.url, { secrets: [NEW, SECRET] });
    try {
      const url = `${rotating.url}/webhook/stripe`;
      expect((await deliver(url, paidSession().event, SECRET)).status).toBe(200);
      expect((await deliver(url, paidSession().event, NEW)).status).toBe(200);
      const { payload } = paidSession();
      const t = now();
      expect(
        (await post(url, payload, { 'stripe-signature': `t=${t},v1=${hmac(payload, SECRET, t)},v1=${hmac(payload, NEW, t)}` })).status,
      ).toBe(200);
      expect((await deliver(url, paidSession().event, OTHER)).status).toBe(400);
      // After the overlap the old secret is removed, and what it signs is refused.
      expect((await deliver(hook, paidSession().event, NEW)).status).toBe(400);
    } finally {
      await rotating.close();
    }
    expect((await recorded()).outbox).toBe(3);
  });

  it('without a secret: 503 on the path and nothing recorded, while /healthz answers; /readyz follows the database and Kafka', async () => {
    const unconfigured = await startTestWebhookService(db.url, { secrets: [], brokers: ['127.0.0.1:1'] });
    try {
      const { event } = paidSession();
      const reply = await deliver(`${unconfigured.url}/webhook/stripe`, event, SECRET);
      expect(reply.status).toBe(503);
      expect(reply.body.error).toMatchObject({ reason: 'no_secret_configured' });
      expect(JSON.stringify(reply.body)).toContain('STRIPE_WEBHOOK_SECRET');
      expect((await fetch(`${unconfigured.url}/healthz`)).status).toBe(200);
      // Its broker does not exist: not ready.
      const notReady = await fetch(`${unconfigured.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toMatchObject({ status: 'not ready', database: 'ok' });
    } finally {
      await unconfigured.close();
    }
    expect(await recorded()).toEqual({ outbox: 0, webhookEvents: 0, payments: 0 });
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'ok', kafka: 'ok' });
  });

  it('end to end on Kafka: after every attack and one genuine delivery, the topic holds only the genuine event', async () => {
    const prefix = uniquePrefix();
    const topic = `${prefix}payments.completed`;
    await createTopics(kafkaBrokers, [topic]);
    for (const [name, status, , send] of attacks()) expect((await send()).status, name).toBe(status);
    const genuine = paidSession();
    expect((await deliver(hook, genuine.event, SECRET)).status).toBe(200);
    expect((await deliver(hook, genuine.event, SECRET)).status).toBe(200);
    const publisher = await startPublisher({ DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: prefix });
    try {
      const messages = await consumeUntil(kafkaBrokers, topic, (m) => m.length >= 1, 60_000);
      // Everything the publisher had was sent once the outbox is empty of unpublished rows.
      const { rows } = await pool.query(
        'SELECT count(*)::int AS total, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM outbox',
      );
      expect(rows[0]).toEqual({ total: 1, unpublished: 0 });
      expect(messages.map((m) => m.key)).toEqual([genuine.tripId]);
      expect(messages[0]!.headers).toMatchObject({ ce_type: 'payments.completed', stripe_event_id: genuine.event.id });
      expect(JSON.parse(messages[0]!.value)).toMatchObject({
        trip_id: genuine.tripId,
        user_id: 'u-1',
        driver_id: 'd-1',
        status: 'succeeded',
      });
    } finally {
      await publisher.kill('SIGTERM');
    }
  });
});
