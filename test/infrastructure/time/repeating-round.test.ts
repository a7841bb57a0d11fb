import { describe, expect, it } from 'vitest';
import { RepeatingRound } from '../../../src/infrastructure/time/repeating-round.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RepeatingRound', () => {
  it('runs a round at start and again after each one, never two at once, and none after stop', async () => {
    let rounds = 0;
    let running = 0;
    let overlapped = false;
    const repeating = new RepeatingRound(
      async () => {
        running++;
        overlapped ||= running > 1;
        rounds++;
        await sleep(5);
        running--;
      },
      1,
      () => undefined,
    );
    repeating.start();
    repeating.start();
    await sleep(60);
    await repeating.stop();
    const atStop = rounds;
    await sleep(30);
    expect(atStop).toBeGreaterThan(2);
    expect(rounds).toBe(atStop);
    expect(overlapped).toBe(false);
    expect(repeating.running).toBe(false);
  });

  it('reports a failed round and goes on with the next', async () => {
    const errors: unknown[] = [];
    let rounds = 0;
    const repeating = new RepeatingRound(
      async () => {
        rounds++;
        if (rounds === 1) throw new Error('database gone');
      },
      1,
      (error) => errors.push(error),
    );
    repeating.start();
    await sleep(30);
    await repeating.stop();
    expect((errors[0] as Error).message).toBe('database gone');
    expect(rounds).toBeGreaterThan(1);
  });
});
