import { describe, expect, it } from 'vitest';
import { MicroBatcher, settle } from '../../../src/infrastructure/batching/micro-batcher.js';

describe('MicroBatcher', () => {
  it('runs the calls made in one turn of the event loop as one batch, answering each caller in order', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (inputs) => {
      batches.push(inputs);
      return inputs.map((n) => ({ ok: true, value: n * 10 }));
    });
    expect(await Promise.all([1, 2, 3].map((n) => batcher.call(n)))).toEqual([10, 20, 30]);
    expect(await batcher.call(4)).toBe(40);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('splits a large gathering into batches of at most maxBatch', async () => {
    const sizes: number[] = [];
    const batcher = new MicroBatcher<number, number>(async (inputs) => {
      sizes.push(inputs.length);
      return inputs.map((value) => ({ ok: true, value }));
    }, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.call(i)));
    expect(sizes).toEqual([4, 4, 2]);
  });

  it('fails only the callers whose result failed, and every caller when the whole batch throws', async () => {
    const picky = new MicroBatcher<number, number>(async (inputs) =>
      Promise.all(inputs.map((n) => settle(async () => (n % 2 ? n : Promise.reject(new Error(`even ${n}`)))))),
    );
    const outcomes = await Promise.allSettled([1, 2, 3].map((n) => picky.call(n)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);

    const broken = new MicroBatcher<number, number>(async () => {
      throw new Error('database gone');
    });
    const all = await Promise.allSettled([1, 2].map((n) => broken.call(n)));
    expect(all.every((o) => o.status === 'rejected' && (o.reason as Error).message === 'database gone')).toBe(true);
  });
});
