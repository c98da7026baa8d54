import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, runMain } from '../helpers/cli.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();

describe('paymentsctl stripe-emulator', () => {
  it('--help documents every knob and the admin endpoints', async () => {
    const { stdout, exitCode } = await runCli(['stripe-emulator', '--help']);
    expect(exitCode).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--webhook-url',
      '--webhook-secret',
      '--seed',
      '--latency',
      '--latency-jitter',
      '--error-rate',
      '--error-status',
      '--reset-rate',
      '--timeout-rate',
      '--timeout-hold',
      '--webhook-drop-rate',
      '--webhook-duplicate-rate',
      '--webhook-reorder',
      '--webhook-reorder-window',
      '--webhook-retry-initial',
      '--webhook-max-attempts',
      '/_emulator/faults',
      '/_emulator/charges',
      '/_emulator/reset',
      '/_emulator/checkout/sessions/<id>/complete',
      'Examples:',
    ]) {
      expect(stdout).toContain(flag);
    }
    expect((await runCli(['--help'])).stdout).toContain('stripe-emulator');
  });

  it('refuses bad fault flags with exit 2', async () => {
    const result = await runMain(['stripe-emulator', '--port', '0', '--error-rate', '1.5']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--error-rate');
  });

  it('serves the API, logs its URL and generated secret (never the API key), and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'stripe-emulator', '--port', '0', '--seed', '5', '--latency', '1ms'], {
      env: { ...process.env, STRIPE_WEBHOOK_SECRET: '', LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const started = await new Promise<{ url: string; port: number; seed: number; webhookSecret: string }>((resolve, reject) => {
        createInterface({ input: child.stderr }).on('line', (line) => {
          lines.push(line);
          if (line.includes('stripe emulator listening')) resolve(JSON.parse(line));
        });
        child.on('exit', () => reject(new Error(`exited early:\n${lines.join('\n')}`)));
      });
      expect(started.seed).toBe(5);
      expect(started.webhookSecret).toMatch(/^whsec_/);
      const stripe = contract.stripe(started, 'sk_test_clisecretkey123');
      const intent = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
      expect(intent.status).toBe('succeeded');
      await contract.checkEvents(started);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.join('\n')).not.toContain('sk_test_clisecretkey123');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
