import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseJson, runCli, runMain } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('the CLI frame', () => {
  it('--help lists the working commands and the exit codes', async () => {
    const run = await runCli(['--help']);
    expect(run.exitCode).toBe(0);
    for (const command of ['stack', 'migrate', 'topics']) expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(run.stdout).toContain('--json');
    expect(run.stdout).toContain('--log-level');
    expect(run.stdout).toMatch(/Exit codes: 0 ok/);
  });

  it('--version prints the package version', async () => {
    const run = await runCli(['--version']);
    expect(run).toMatchObject({ exitCode: 0, stdout: `${pkg.version}\n` });
  });

  it('an unknown command or option is a usage error (exit 2)', async () => {
    const command = await runMain(['frobnicate']);
    expect(command.exitCode).toBe(2);
    expect(command.stderr).toContain("unknown command 'frobnicate'");
    const option = await runMain(['migrate', '--no-such-flag']);
    expect(option.exitCode).toBe(2);
    expect(option.stderr).toContain('--no-such-flag');
    const level = await runMain(['--log-level', 'loud', 'migrate']);
    expect(level.exitCode).toBe(2);
  });

  it('a missing setting exits 2 and says which and how to set it', async () => {
    const text = await runMain(['migrate']);
    expect(text.exitCode).toBe(2);
    expect(text.stderr).toContain('DATABASE_URL is not set');
    expect(text.stderr).toContain('paymentsctl stack up');

    const json = await runMain(['migrate', '--json']);
    expect(json.exitCode).toBe(2);
    expect(parseJson<{ error: { setting: string; exitCode: number } }>(json.stdout).error).toMatchObject({
      setting: 'DATABASE_URL',
      exitCode: 2,
    });

    const brokers = await runMain(['topics', 'ensure', '--brokers', 'nohostport']);
    expect(brokers.exitCode).toBe(2);
    expect(brokers.stderr).toContain('--brokers is invalid');
  });

  it('an unreachable dependency exits 3 and secrets stay out of stdout, stderr and logs', async () => {
    const password = 'pa55-w0rd-never-printed';
    const stripeKey = 'sk_test_51NeverPrintThisKey';
    const run = await runCli(['--log-level', 'trace', 'topics', 'ensure', '--json'], {
      KAFKA_BROKERS: '127.0.0.1:1',
      DATABASE_URL: `postgres://app:${password}@127.0.0.1:1/app`,
      STRIPE_API_KEY: stripeKey,
      STRIPE_WEBHOOK_SECRET: 'whsec_neverprintedeither',
    });
    expect(run.exitCode).toBe(3);
    expect(parseJson<{ error: { message: string } }>(run.stdout).error.message).toContain('cannot reach Kafka');

    const migrate = await runCli(['--log-level', 'trace', 'migrate'], {
      DATABASE_URL: `postgres://app:${password}@127.0.0.1:1/app`,
      STRIPE_API_KEY: stripeKey,
    });
    expect(migrate.exitCode).toBe(3);
    expect(migrate.stderr).toContain('cannot connect to PostgreSQL at 127.0.0.1:1/app');
    for (const output of [run.stdout, run.stderr, migrate.stdout, migrate.stderr]) {
      expect(output).not.toContain(password);
      expect(output).not.toContain('51NeverPrintThisKey');
      expect(output).not.toContain('neverprintedeither');
    }
  });

  it('logs JSON lines to stderr when it is not a terminal', async () => {
    const run = await runCli(['--log-level', 'info', 'migrate'], { DATABASE_URL: 'postgres://app@127.0.0.1:1/app' });
    const lines = run.stderr.split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('level');
  });
});
