import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit } from '../../src/db/group-commit.js';

/** A commit function whose batches finish only when the test says so. */
function controlledCommit<T>() {
  const batches: { items: T[]; finish: (outcomes: PromiseSettledResult<T>[]) => void; fail: (error: unknown) => void }[] = [];
  const commit = (items: T[]) =>
    new Promise<PromiseSettledResult<T>[]>((finish, fail) => {
      batches.push({ items, finish, fail });
    });
  const ok = (items: T[]) => items.map((value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }));
  return { batches, commit, ok };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('commits at once when idle, and queues what arrives meanwhile into the next batch', async () => {
    const { batches, commit, ok } = controlledCommit<string>();
    const sizes: number[] = [];
    const group = new GroupCommit({ maxBatch: 10, maxConcurrent: 1, commit, onBatch: (size) => sizes.push(size) });
    const first = group.submit('a');
    const rest = ['b', 'c', 'd'].map((item) => group.submit(item));
    expect(batches.map((b) => b.items)).toEqual([['a']]);
    batches[0]!.finish(ok(batches[0]!.items));
    expect(await first).toBe('a');
    await settle();
    expect(batches.map((b) => b.items)).toEqual([['a'], ['b', 'c', 'd']]);
    batches[1]!.finish(ok(batches[1]!.items));
    expect(await Promise.all(rest)).toEqual(['b', 'c', 'd']);
    expect(sizes).toEqual([1, 3]);
  });

  it('runs at most maxConcurrent batches of at most maxBatch items', async () => {
    const { batches, commit, ok } = controlledCommit<number>();
    const group = new GroupCommit({ maxBatch: 2, maxConcurrent: 2, commit });
    const all = [1, 2, 3, 4, 5, 6].map((item) => group.submit(item));
    expect(batches.map((b) => b.items)).toEqual([[1], [2]]);
    batches[0]!.finish(ok(batches[0]!.items));
    await settle();
    expect(batches.map((b) => b.items)).toEqual([[1], [2], [3, 4]]);
    batches[1]!.finish(ok(batches[1]!.items));
    await settle();
    expect(batches.map((b) => b.items)).toEqual([[1], [2], [3, 4], [5, 6]]);
    for (const batch of batches.slice(2)) batch.finish(ok(batch.items));
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('keeps items that share a key in separate batches, in the order they came', async () => {
    const { batches, commit, ok } = controlledCommit<{ id: string; key: string }>();
    const group = new GroupCommit({ maxBatch: 10, maxConcurrent: 1, commit, keysOf: (item: { key: string }) => [item.key] });
    void group.submit({ id: 'busy', key: 'z' });
    for (const [id, key] of [
      ['x1', 'x'],
      ['y1', 'y'],
      ['x2', 'x'],
      ['x3', 'x'],
      ['y2', 'y'],
    ] as const)
      void group.submit({ id, key });
    batches[0]!.finish(ok(batches[0]!.items));
    await settle();
    expect(batches[1]!.items.map((item) => item.id)).toEqual(['x1', 'y1']);
    batches[1]!.finish(ok(batches[1]!.items));
    await settle();
    expect(batches[2]!.items.map((item) => item.id)).toEqual(['x2', 'y2']);
    batches[2]!.finish(ok(batches[2]!.items));
    await settle();
    expect(batches[3]!.items.map((item) => item.id)).toEqual(['x3']);
  });

  it('fails one item alone when its batch says so, and every item when the batch fails', async () => {
    const { batches, commit } = controlledCommit<string>();
    const group = new GroupCommit({ maxBatch: 10, maxConcurrent: 1, commit });
    void group.submit('busy');
    const [good, bad] = [group.submit('good'), group.submit('bad')];
    batches[0]!.finish([{ status: 'fulfilled', value: 'busy' }]);
    await settle();
    batches[1]!.finish([
      { status: 'fulfilled', value: 'good' },
      { status: 'rejected', reason: new Error('bad alone') },
    ]);
    expect(await good).toBe('good');
    await expect(bad).rejects.toThrow('bad alone');

    await settle();
    void group.submit('hold');
    const both = [group.submit('one'), group.submit('two')];
    batches[2]!.finish([{ status: 'fulfilled', value: 'hold' }]);
    await settle();
    expect(batches[3]!.items).toEqual(['one', 'two']);
    batches[3]!.fail(new Error('connection lost'));
    for (const outcome of both) await expect(outcome).rejects.toThrow('connection lost');
  });

  describe('linger', () => {
    afterEach(() => vi.useRealTimers());

    it('waits for company while more items are on their way, up to `items`', async () => {
      const { batches, commit } = controlledCommit<string>();
      const group = new GroupCommit({ maxBatch: 10, maxConcurrent: 1, commit, linger: { items: 3, maxMs: 20, coming: () => 2 } });
      void group.submit('a');
      void group.submit('b');
      expect(batches).toHaveLength(0);
      void group.submit('c');
      expect(batches.map((b) => b.items)).toEqual([['a', 'b', 'c']]);
    });

    it('starts with what it has once the oldest has waited maxMs', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
      const { batches, commit } = controlledCommit<string>();
      const group = new GroupCommit({ maxBatch: 10, maxConcurrent: 1, commit, linger: { items: 10, maxMs: 20, coming: () => 5 } });
      void group.submit('a');
      vi.advanceTimersByTime(19);
      expect(batches).toHaveLength(0);
      vi.advanceTimersByTime(1);
      expect(batches.map((b) => b.items)).toEqual([['a']]);
    });

    it('never waits when nothing else is on its way, and starts once the last one on its way gave up', async () => {
      const { batches, commit } = controlledCommit<string>();
      let coming = 0;
      const group = new GroupCommit({ maxBatch: 10, maxConcurrent: 1, commit, linger: { items: 10, maxMs: 1_000, coming: () => coming } });
      void group.submit('alone');
      expect(batches.map((b) => b.items)).toEqual([['alone']]);
      batches[0]!.finish([{ status: 'fulfilled', value: 'alone' }]);
      await settle();
      coming = 1;
      void group.submit('b');
      await settle();
      expect(batches).toHaveLength(1);
      coming = 0;
      group.pump();
      expect(batches.map((b) => b.items)).toEqual([['alone'], ['b']]);
    });
  });
});
