import { cp, mkdtemp, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

// No Docker engine runs on these machines, so the image cannot be built here. This reproduces the
// Dockerfile's final stage in a temporary directory instead — the instructions read from the
// Dockerfile itself, so the test and the Dockerfile cannot drift apart — and runs the result.

interface Instruction {
  op: string;
  args: string;
}

function stages(dockerfile: string): { from: string; name?: string; instructions: Instruction[] }[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const result: { from: string; name?: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op!.toUpperCase() === 'FROM') {
      const [image, as, name] = args.split(/\s+/);
      result.push({ from: image!, ...(as?.toUpperCase() === 'AS' ? { name } : {}), instructions: [] });
    } else result.at(-1)!.instructions.push({ op: op!.toUpperCase(), args });
  }
  return result;
}

describe('the image', async () => {
  const dockerfile = await readFile('Dockerfile', 'utf8');
  const all = stages(dockerfile);
  const final = all.at(-1)!;
  const workdir = (stage: (typeof all)[number]) => stage.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '/';

  it('is multi-stage on a pinned Node LTS slim base, runs as a numeric non-root user, and execs paymentsctl with node as PID 1', async () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const stage of all) expect(stage.from).toMatch(/^node:20\.\d+\.\d+-\w+-slim$/);
    expect(final.instructions.find((i) => i.op === 'USER')?.args).toMatch(/^[1-9]\d*(:\d+)?$/);
    // Exec form: no shell in between, so SIGTERM reaches node.
    expect(JSON.parse(final.instructions.find((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['paymentsctl']);
    const link = /ln -s (\S+) (\S+)/.exec(
      final.instructions
        .filter((i) => i.op === 'RUN')
        .map((i) => i.args)
        .join(' && '),
    );
    expect(link?.[2]).toBe('/usr/local/bin/paymentsctl');
    const shim = await readFile(link![1]!.replace(`${workdir(final)}/`, ''), 'utf8');
    expect(shim.split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('its final stage, reproduced, installs production dependencies only and runs every role', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'image-final-stage-'));
    const ignored = (await readFile('.dockerignore', 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const copies = final.instructions.filter((i) => i.op === 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    let installed = false;
    for (const instruction of final.instructions) {
      if (instruction.op === 'COPY') {
        const parts = instruction.args.split(/\s+/);
        const fromStage = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
        const paths = parts.filter((p) => !p.startsWith('--'));
        const target = paths.pop()!;
        for (const source of paths) {
          let local = source;
          if (fromStage) {
            // What another stage made: its WORKDIR is this repository after `npm run build`.
            const stage = all.find((s) => s.name === fromStage)!;
            local = source.replace(new RegExp(`^${workdir(stage)}/`), '');
          } else {
            expect(ignored, `${source} is copied from the build context but .dockerignore drops it`).not.toContain(source);
          }
          expect(existsSync(local), `${local} (COPY ${instruction.args})`).toBe(true);
          const dest = target.endsWith('/') ? join(dir, target, local.split('/').pop()!) : join(dir, target);
          await cp(local, dest, { recursive: true });
        }
      } else if (instruction.op === 'RUN' && /\bnpm ci\b/.test(instruction.args)) {
        const npm = instruction.args
          .split('&&')
          .map((c) => c.trim())
          .find((c) => c.startsWith('npm ci'))!;
        expect(npm).toContain('--omit=dev');
        expect(npm).toContain('--ignore-scripts');
        await execa('npm', npm.split(/\s+/).slice(1), { cwd: dir, env: { npm_config_update_notifier: 'false' } });
        installed = true;
      }
    }
    expect(installed).toBe(true);
    expect(existsSync(join(dir, 'node_modules/typescript')), 'dev dependencies must not be installed').toBe(false);
    expect(existsSync(join(dir, 'node_modules/vitest'))).toBe(false);
    expect((await stat(join(dir, 'dist/cli/main.js'))).isFile()).toBe(true);

    const run = (...args: string[]) =>
      execa(process.execPath, [join(dir, 'bin/paymentsctl.js'), ...args], {
        cwd: dir,
        reject: false,
        extendEnv: false,
        env: { PATH: process.env.PATH, HOME: dir, NODE_ENV: 'production' },
      });
    const help = await run('--help');
    expect(help.exitCode).toBe(0);
    for (const command of ['migrate', 'publish-outbox', 'worker', 'webhook-serve', 'apply']) expect(help.stdout).toContain(command);
    const migrate = await run('migrate', '--help');
    expect(migrate.exitCode).toBe(0);
    expect(migrate.stdout).toContain('--tenants-file');
    const worker = await run('worker', '--help');
    expect(worker.exitCode).toBe(0);
    expect(worker.stdout).toContain('--handlers');
    // The migrations ship in the image: `migrate --status` gets as far as needing a database.
    const status = await run('migrate', '--status');
    expect(status.exitCode).toBe(2);
    expect(status.stderr).toContain('DATABASE_URL is not set');
  });
});
