import { acceleratedNow } from './clock.js';

/**
 * Preloaded into the worker processes (`node --import tsx --import ./test/faults/support/fast-clock.ts`): Date.now()
 * and `new Date()` run FAULTS_CLOCK_RATE times faster from FAULTS_CLOCK_EPOCH (epoch ms) on, so the decider's retry
 * backoff and the scheduler's due times pass quickly. Timers are left alone: HTTP timeouts, JetStream ack waits and
 * redelivery delays keep their real length. Every worker gets the same epoch, so restarted ones agree on the time.
 */
const rate = Number(process.env.FAULTS_CLOCK_RATE ?? 1);
const epoch = Number(process.env.FAULTS_CLOCK_EPOCH ?? Date.now());

if (Number.isFinite(rate) && rate > 1 && Number.isFinite(epoch)) {
  const RealDate = Date;
  const now = acceleratedNow(epoch, rate, RealDate.now.bind(RealDate));
  RealDate.now = now;
  // A Proxy rather than a subclass: every Date stays an instance of the one Date (instanceof checks in libraries).
  globalThis.Date = new Proxy(RealDate, {
    construct: (target, args, newTarget) => Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget) as object,
    apply: () => new RealDate(now()).toString(),
  });
}
