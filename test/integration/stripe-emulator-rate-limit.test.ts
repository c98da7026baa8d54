import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { EmulatorAdminClient } from '../../src/stripe-emulator/admin-client.js';
import { startStripeEmulator, type RunningEmulator } from '../../src/stripe-emulator/index.js';

const AUTH = { authorization: 'Bearer sk_test_rate_limit_suite' };

describe("the Stripe emulator's rate limit and request meter", () => {
  let emulator: RunningEmulator;
  let admin: EmulatorAdminClient;
  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: 0, seed: 5, log: createLogger({ level: 'silent' }) });
    admin = new EmulatorAdminClient(emulator.url);
  });
  afterAll(() => emulator.close());

  it('answers 429 rate_limit (Stripe-Should-Retry: true) to requests over the limit, and counts them', async () => {
    await admin.setFaults({ rateLimitPerSecond: 3 });
    await admin.resetRequests();
    // Ten at once: far more than three arrive within one second.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => fetch(`${emulator.url}/v1/payment_intents?limit=1`, { headers: AUTH })),
    );
    const refused = answers.filter((answer) => answer.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.filter((answer) => answer.status === 200).length + refused.length).toBe(10);
    expect(refused[0]!.headers.get('stripe-should-retry')).toBe('true');
    expect(((await refused[0]!.json()) as { error: { code: string } }).error.code).toBe('rate_limit');
    const stats = await admin.requests();
    expect(stats).toMatchObject({ total: 10, rateLimited: refused.length });
    expect(stats.peakPerSecond).toBeGreaterThan(3);
    // The admin endpoints are never limited or counted.
    expect((await admin.requests()).total).toBe(10);
  });

  it('limits nothing once the limit is 0, and DELETE /_emulator/requests starts counting again', async () => {
    await admin.setFaults({ rateLimitPerSecond: 0 });
    expect(await admin.resetRequests()).toEqual({ total: 0, rateLimited: 0, peakPerSecond: 0 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${emulator.url}/v1/refunds`, { headers: AUTH })));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(await admin.requests()).toMatchObject({ total: 10, rateLimited: 0 });
  });
});
