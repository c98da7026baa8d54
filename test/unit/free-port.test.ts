import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/stack/ports.js';

describe('freePort', () => {
  it('never hands out the same port twice in one process, though each is released at once', async () => {
    // Drawn one after another, the kernel's random choice repeats within a few hundred draws.
    const ports: number[] = [];
    for (let i = 0; i < 500; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });
});
