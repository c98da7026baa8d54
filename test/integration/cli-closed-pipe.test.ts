import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/paymentsctl.js', import.meta.url));

describe('output into a pipe its reader already closed', () => {
  it('ends quietly with the exit code it had (as `paymentsctl … | head` does), not with a stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'replay', 'stripe-events', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the CLI has even started, so its first write meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});
