import { setTimeout as sleep } from 'node:timers/promises';
import { PlatformError } from './connector.js';
import type { PlatformCalls } from './platform-calls.js';

/**
 * Retries, inside the operation, one HTTP call that failed for a passing reason. A platform answering 5 % of calls
 * with a 503 would otherwise fail one Instagram publish in four (about five calls each), and every such failure costs
 * a whole attempt of the publication, minutes of backoff and a findPublished. Only calls the connector marks redoable
 * are sent again: the call that publishes never is (see PlatformCalls).
 *
 * What is retried:
 * - transient (5xx, no answer in time, connection reset): after an exponential pause with jitter, or the
 *   platform's Retry-After when it gave one;
 * - rate_limited, only when the platform said how long to wait and that wait is short: longer or unknown waits end the
 *   operation, and the worker retries the publication when the platform allows it.
 * A refusal by the open circuit breaker is never retried: the platform is failing, so the operation stops at once.
 */
export interface CallRetryPolicy {
  /** Tries after the first. Default 3. */
  retries?: number;
  /** Pause before the first retry of a transient failure; doubled for each one after. Default 500 ms. */
  baseDelayMs?: number;
  /** The longest pause between two tries of a transient failure. Default 4 s. */
  maxDelayMs?: number;
  /** The longest wait a platform may ask for (Retry-After, reset headers) and still be waited for inside the operation. Default 5 s. */
  maxRetryAfterMs?: number;
  /** For tests. */
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

const defaults = { retries: 3, baseDelayMs: 500, maxDelayMs: 4_000, maxRetryAfterMs: 5_000 };

/** Calls through `inner` (the breaker's guard, or singleCalls), each redoable one retried per the policy. */
export function retryingCalls(inner: PlatformCalls, policy: CallRetryPolicy = {}): PlatformCalls {
  const retries = policy.retries ?? defaults.retries;
  const pause = policy.sleep ?? ((ms: number) => sleep(ms));
  return {
    async run(call, options) {
      for (let retry = 0; ; retry++) {
        try {
          return await inner.run(call, options);
        } catch (error) {
          const wait = options.redoable && retry < retries ? retryDelayMs(error, retry, policy) : undefined;
          if (wait === undefined) throw error;
          await pause(wait);
        }
      }
    },
  };
}

/**
 * How long to wait before trying again after the (retry+1)-th failed try, or undefined when the failure is not one to
 * retry inside the operation.
 */
export function retryDelayMs(error: unknown, retry: number, policy: Omit<CallRetryPolicy, 'sleep'> = {}): number | undefined {
  if (!(error instanceof PlatformError)) return undefined;
  if (error.details.platformCode === 'circuit_open') return undefined;
  const maxRetryAfterMs = policy.maxRetryAfterMs ?? defaults.maxRetryAfterMs;
  const asked = error.details.retryAfterMs;
  if (asked !== undefined && asked > maxRetryAfterMs) return undefined;
  const random = policy.random ?? Math.random;
  switch (error.errorClass) {
    case 'transient': {
      if (asked !== undefined) return asked;
      const base = policy.baseDelayMs ?? defaults.baseDelayMs;
      const backoff = Math.min(base * 2 ** retry, policy.maxDelayMs ?? defaults.maxDelayMs);
      // A random pause in the upper half of the backoff: callers that failed together do not come back together.
      return Math.round(backoff / 2 + (random() * backoff) / 2);
    }
    case 'rate_limited':
      // A reset header names a second: a little past it, so the retry does not land just before the reset.
      return asked === undefined ? undefined : asked + Math.round(random() * 250);
    default:
      return undefined;
  }
}
