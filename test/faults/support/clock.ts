/**
 * The clock of the worker processes, which run `rate` times faster than the wall clock from `epoch` on (see
 * fast-clock.ts; FAULTS_CLOCK_RATE, 1 by default): the scheduler's and the decider's delays then pass that much faster.
 */
export function acceleratedNow(epoch: number, rate: number, wallNow: () => number = Date.now): () => number {
  return () => epoch + (wallNow() - epoch) * rate;
}
