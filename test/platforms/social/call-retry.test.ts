import { describe, expect, it } from 'vitest';
import { retryDelayMs, retryingCalls } from '../../../src/platforms/social/call-retry.js';
import { PlatformError, type PlatformErrorClass } from '../../../src/platforms/social/connector.js';
import { singleCalls } from '../../../src/platforms/social/platform-calls.js';

const failure = (errorClass: PlatformErrorClass, details: PlatformError['details'] = {}) => new PlatformError('instagram', errorClass, `instagram: ${errorClass}`, details);
const middle = () => 0.5;

describe('retryDelayMs', () => {
  it('spaces transient failures exponentially, with jitter in the upper half, up to the cap', () => {
    const policy = { baseDelayMs: 500, maxDelayMs: 4_000, random: middle };
    expect([0, 1, 2, 3, 4].map((retry) => retryDelayMs(failure('transient', { status: 503 }), retry, policy))).toEqual([375, 750, 1_500, 3_000, 3_000]);
    expect(retryDelayMs(failure('transient'), 0, { ...policy, random: () => 0 })).toBe(250);
    expect(retryDelayMs(failure('transient'), 0, { ...policy, random: () => 0.999_999 })).toBe(500);
  });

  it("waits the platform's short Retry-After, transient or throttled", () => {
    expect(retryDelayMs(failure('transient', { status: 503, retryAfterMs: 2_000 }), 0, { random: () => 0 })).toBe(2_000);
    expect(retryDelayMs(failure('rate_limited', { status: 429, retryAfterMs: 3_000 }), 1, { random: () => 0 })).toBe(3_000);
    // A reset header names a second: the retry lands a little after it.
    expect(retryDelayMs(failure('rate_limited', { status: 429, retryAfterMs: 1_000 }), 0, { random: () => 1 })).toBe(1_250);
  });

  it('leaves a long or unknown throttling wait to the worker', () => {
    expect(retryDelayMs(failure('rate_limited', { status: 429, retryAfterMs: 300_000 }), 0)).toBeUndefined();
    expect(retryDelayMs(failure('rate_limited', { status: 429 }), 0)).toBeUndefined();
    expect(retryDelayMs(failure('transient', { status: 503, retryAfterMs: 60_000 }), 0)).toBeUndefined();
    expect(retryDelayMs(failure('rate_limited', { retryAfterMs: 8_000 }), 0, { maxRetryAfterMs: 10_000, random: () => 0 })).toBe(8_000);
  });

  it.each<PlatformErrorClass>(['auth', 'permanent', 'duplicate', 'unknown_outcome'])('never retries %s', (errorClass) => {
    expect(retryDelayMs(failure(errorClass, { status: 400 }), 0)).toBeUndefined();
  });

  it("never retries the open breaker's refusal, nor an error that is not the platform's", () => {
    expect(retryDelayMs(failure('transient', { platformCode: 'circuit_open' }), 0)).toBeUndefined();
    expect(retryDelayMs(new TypeError('x is undefined'), 0)).toBeUndefined();
  });
});

describe('retryingCalls', () => {
  const recorder = () => {
    const pauses: number[] = [];
    return { pauses, sleep: async (ms: number) => void pauses.push(ms) };
  };
  const failing = (errors: unknown[], answer = 'ok') => {
    let tries = 0;
    return {
      tries: () => tries,
      call: async () => {
        const error = errors[tries++];
        if (error) throw error;
        return answer;
      },
    };
  };

  it('tries a redoable call again until it answers', async () => {
    const { pauses, sleep } = recorder();
    const call = failing([failure('transient', { status: 502 }), failure('rate_limited', { status: 429, retryAfterMs: 1_000 })]);
    const calls = retryingCalls(singleCalls, { sleep, random: () => 0 });
    await expect(calls.run(call.call, { redoable: true })).resolves.toBe('ok');
    expect(call.tries()).toBe(3);
    expect(pauses).toEqual([250, 1_000]);
  });

  it('sends a call that is not redoable once', async () => {
    const { pauses, sleep } = recorder();
    const call = failing([failure('transient', { status: 503 })]);
    await expect(retryingCalls(singleCalls, { sleep }).run(call.call, { redoable: false })).rejects.toThrow('instagram: transient');
    expect(call.tries()).toBe(1);
    expect(pauses).toEqual([]);
  });

  it('gives up after the retries, with the last failure', async () => {
    const { pauses, sleep } = recorder();
    const errors = [1, 2, 3, 4, 5].map((n) => new PlatformError('linkedin', 'transient', `linkedin: try ${n}`, { status: 500 }));
    const call = failing(errors);
    await expect(retryingCalls(singleCalls, { retries: 3, sleep, random: () => 0 }).run(call.call, { redoable: true })).rejects.toThrow('linkedin: try 4');
    expect(call.tries()).toBe(4);
    expect(pauses).toEqual([250, 500, 1_000]);
  });

  it('stops at once on a failure that is not worth retrying', async () => {
    const { sleep } = recorder();
    const call = failing([failure('transient', { status: 503 }), failure('auth', { status: 401 })]);
    await expect(retryingCalls(singleCalls, { sleep }).run(call.call, { redoable: true })).rejects.toMatchObject({ errorClass: 'auth' });
    expect(call.tries()).toBe(2);
  });

  it('runs each try through the inner calls (the breaker sees every one)', async () => {
    const seen: boolean[] = [];
    const inner = { run: <T>(call: () => Promise<T>, options: { redoable: boolean }) => (seen.push(options.redoable), call()) };
    const call = failing([failure('transient', { status: 503 })]);
    await retryingCalls(inner, { sleep: async () => undefined }).run(call.call, { redoable: true });
    expect(seen).toEqual([true, true]);
  });
});
