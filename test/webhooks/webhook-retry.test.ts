import { describe, expect, it } from 'vitest';
import { defaultRetryPolicy, nextAttemptAt } from '../../src/webhooks/webhook-retry.js';

describe('webhook retry policy', () => {
  const first = new Date('2026-01-01T00:00:00Z');
  const delayAfter = (attempts: number, random = 0.5, now = first) =>
    nextAttemptAt(defaultRetryPolicy, { attempts, firstAttemptAt: first, now }, () => random)!.getTime() - now.getTime();

  it('doubles from 30 s and is capped at 1 h', () => {
    expect([1, 2, 3, 4].map((n) => delayAfter(n))).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(delayAfter(12)).toBe(3_600_000);
    expect(delayAfter(12, 1)).toBe(3_600_000);
  });

  it('jitters by ±20 %', () => {
    expect(delayAfter(1, 0)).toBe(24_000);
    expect(delayAfter(1, 1)).toBe(36_000);
  });

  it('makes its last retry at 24 h after the first attempt, then gives up', () => {
    const late = new Date(first.getTime() + 24 * 3_600_000 - 60_000);
    expect(nextAttemptAt(defaultRetryPolicy, { attempts: 30, firstAttemptAt: first, now: late })).toEqual(new Date(first.getTime() + 24 * 3_600_000));
    const deadline = new Date(first.getTime() + 24 * 3_600_000);
    expect(nextAttemptAt(defaultRetryPolicy, { attempts: 31, firstAttemptAt: first, now: deadline })).toBeNull();
  });
});
