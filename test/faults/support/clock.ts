/**
 * The clock of the worker processes, which run `rate` times faster than the wall clock from `epoch` on (see
 * fast-clock.ts). The publication decider spaces retries 60 s × 2^(n-1) apart and takes no setting for it; on the
 * wall clock, a platform failing four times in a row would keep the suite waiting 15 minutes.
 */
export function acceleratedNow(epoch: number, rate: number, wallNow: () => number = Date.now): () => number {
  return () => epoch + (wallNow() - epoch) * rate;
}
