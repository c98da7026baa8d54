import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { parseSignatureHeader, signPayload, verifySignature } from '../../src/webhook/signature.js';
import { stripeSignature } from '../helpers/webhook.js';

const SECRET = 'whsec_unit_current_0123456789';
const OLD = 'whsec_unit_previous_9876543210';
const NOW = 1_750_000_000;
const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1' } } });
const raw = Buffer.from(body, 'utf8');
const opts = { toleranceSeconds: 300, nowSeconds: NOW };

const v1 = (payload: string | Buffer, secret: string, t: number) =>
  createHmac('sha256', secret).update(`${t}.`).update(payload).digest('hex');

describe('verifySignature', () => {
  it('accepts what Stripe signs (the SDK computes the header), and agrees with constructEvent', () => {
    const header = stripeSignature(body, SECRET, NOW);
    expect(verifySignature(raw, header, [SECRET], opts)).toEqual({ ok: true, timestamp: NOW, secretIndex: 0 });
    // Our own signer makes headers the SDK accepts (the benchmark and scripts use it).
    const ours = signPayload(body, SECRET, Math.floor(Date.now() / 1000));
    expect(new Stripe('sk_test_x').webhooks.constructEvent(body, ours, SECRET).id).toBe('evt_1');
  });

  it('rejects a forged signature, a body changed by one byte, and a signature made with another secret', () => {
    const forged = `t=${NOW},v1=${'ab'.repeat(32)}`;
    expect(verifySignature(raw, forged, [SECRET], opts)).toEqual({ ok: false, reason: 'bad_signature' });
    const header = stripeSignature(body, SECRET, NOW);
    const tampered = Buffer.from(raw);
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0x01;
    expect(verifySignature(tampered, header, [SECRET], opts)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySignature(raw, stripeSignature(body, 'whsec_someone_else', NOW), [SECRET], opts)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('signs the timestamp too: replaying a signature under another timestamp fails', () => {
    const signature = v1(body, SECRET, NOW - 1000);
    expect(verifySignature(raw, `t=${NOW},v1=${signature}`, [SECRET], opts)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects timestamps outside the tolerance in the past and in the future, and accepts the edges', () => {
    for (const t of [NOW - 301, NOW + 301, NOW - 86_400, NOW + 86_400]) {
      expect(verifySignature(raw, stripeSignature(body, SECRET, t), [SECRET], opts), String(t)).toEqual({
        ok: false,
        reason: 'stale_timestamp',
      });
    }
    for (const t of [NOW - 300, NOW + 300, NOW]) {
      expect(verifySignature(raw, stripeSignature(body, SECRET, t), [SECRET], opts).ok, String(t)).toBe(true);
    }
  });

  it('reports a missing, empty or malformed header, and a header with only v0', () => {
    expect(verifySignature(raw, undefined, [SECRET], opts)).toEqual({ ok: false, reason: 'missing_header' });
    expect(verifySignature(raw, '  ', [SECRET], opts)).toEqual({ ok: false, reason: 'missing_header' });
    for (const header of [
      'garbage',
      `v1=${v1(body, SECRET, NOW)}`,
      `t=abc,v1=${v1(body, SECRET, NOW)}`,
      `t=${NOW},t=${NOW},v1=${v1(body, SECRET, NOW)}`,
      `t=-5,v1=00`,
    ]) {
      expect(verifySignature(raw, header, [SECRET], opts), header).toEqual({ ok: false, reason: 'malformed_header' });
    }
    // v0 is Stripe's test-only scheme: even a correct v0 signature is not a v1 signature.
    expect(verifySignature(raw, `t=${NOW},v0=${v1(body, SECRET, NOW)}`, [SECRET], opts)).toEqual({ ok: false, reason: 'no_v1_signature' });
    expect(verifySignature(raw, `t=${NOW},v1=zz,v1=`, [SECRET], opts)).toEqual({ ok: false, reason: 'no_v1_signature' });
  });

  it('accepts any of several v1 signatures, in any order, with v0 and unknown schemes around them', () => {
    const good = v1(body, SECRET, NOW);
    const header = `t=${NOW},v0=${'cd'.repeat(32)},v1=${'00'.repeat(32)},v1=${good},v9=whatever`;
    expect(verifySignature(raw, header, [SECRET], opts).ok).toBe(true);
    expect(verifySignature(raw, ` t=${NOW} , v1=${good.toUpperCase()} `, [SECRET], opts).ok).toBe(true);
  });

  it('rotation: any configured secret verifies, and says which one did', () => {
    const secrets = [SECRET, OLD];
    expect(verifySignature(raw, stripeSignature(body, SECRET, NOW), secrets, opts)).toMatchObject({ ok: true, secretIndex: 0 });
    expect(verifySignature(raw, stripeSignature(body, OLD, NOW), secrets, opts)).toMatchObject({ ok: true, secretIndex: 1 });
    // While Stripe rolls a secret it signs with both: one header, two v1 entries.
    const both = `t=${NOW},v1=${v1(body, OLD, NOW)},v1=${v1(body, SECRET, NOW)}`;
    expect(verifySignature(raw, both, [SECRET], opts).ok).toBe(true);
    expect(verifySignature(raw, both, [OLD], opts).ok).toBe(true);
    expect(verifySignature(raw, stripeSignature(body, OLD, NOW), [SECRET], opts)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('verifies the raw bytes: a body that is not UTF-8 text is signed and checked byte for byte', () => {
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80]);
    const header = `t=${NOW},v1=${v1(binary, SECRET, NOW)}`;
    expect(verifySignature(binary, header, [SECRET], opts).ok).toBe(true);
    expect(verifySignature(Buffer.from(binary.toString('utf8'), 'utf8'), header, [SECRET], opts).ok).toBe(false);
  });

  it('with no secret nothing verifies', () => {
    expect(verifySignature(raw, stripeSignature(body, SECRET, NOW), [], opts)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses absurd headers without spending CPU on them', () => {
    expect(parseSignatureHeader(`t=${NOW},` + 'v1=00,'.repeat(5000))).toBe('malformed_header');
  });
});
