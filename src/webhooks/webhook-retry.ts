/**
 * When to try a failed delivery again: exponential backoff (30 s, 1 min, 2 min … capped at 1 h) with ±20 % jitter,
 * so that the deliveries of one outage do not all come back at the same second, until 24 h after the first attempt.
 */

export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Counted from the first attempt; the last retry is made at this deadline. */
  giveUpAfterMs: number;
  /** Fraction of the delay drawn at random on either side. */
  jitter: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  giveUpAfterMs: 24 * 3_600_000,
  jitter: 0.2,
};

/** The next attempt after `attempts` failed ones, or null when the deadline has passed. */
export function nextAttemptAt(
  policy: RetryPolicy,
  attempt: { attempts: number; firstAttemptAt: Date; now: Date },
  random: () => number = Math.random,
): Date | null {
  const deadline = attempt.firstAttemptAt.getTime() + policy.giveUpAfterMs;
  const now = attempt.now.getTime();
  if (now >= deadline) return null;
  const exponential = policy.baseDelayMs * 2 ** Math.min(attempt.attempts - 1, 30);
  const jittered = Math.min(policy.maxDelayMs, exponential) * (1 - policy.jitter + 2 * policy.jitter * random());
  return new Date(Math.min(now + Math.min(policy.maxDelayMs, jittered), deadline));
}
