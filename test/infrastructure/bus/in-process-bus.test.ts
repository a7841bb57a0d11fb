import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../../src/infrastructure/bus/in-process-bus.js';
import { filtersOverlap, subjectMatches } from '../../../src/infrastructure/bus/message-bus.js';
import { messageBusContract } from './message-bus-contract.js';
import { queueStatsContract } from './queue-stats-contract.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

messageBusContract('in-process', async () => {
  // Settle errors are reported, not thrown: a contract run must not have any.
  const errors: unknown[] = [];
  const bus = createInProcessBus({ onError: (error) => errors.push(error) });
  return {
    bus,
    async cleanup() {
      await bus.close();
      expect(errors).toEqual([]);
    },
  };
});

queueStatsContract('in-process', async () => {
  const bus = createInProcessBus();
  return { bus, cleanup: () => bus.close() };
});

describe('in-process bus', () => {
  it('forgets a msgId once the duplicate window has passed', async () => {
    const bus = createInProcessBus({ duplicateWindowMs: 30 });
    expect(await bus.publish('comm.jobs.a', 1, { msgId: 'x' })).toEqual({ duplicate: false });
    expect(await bus.publish('comm.jobs.a', 1, { msgId: 'x' })).toEqual({ duplicate: true });
    await sleep(50);
    expect(await bus.publish('comm.jobs.a', 1, { msgId: 'x' })).toEqual({ duplicate: false });
    await bus.close();
  });

  it('consumes several filter subjects with one durable', async () => {
    const bus = createInProcessBus();
    const seen: string[] = [];
    const consumer = await bus.consume({ durable: 'email', subjects: ['comm.jobs.notify.email', 'comm.jobs.notify.sms'] }, async (m) => {
      seen.push(m.subject);
    });
    await bus.publish('comm.jobs.notify.email', {}, { msgId: '1' });
    await bus.publish('comm.jobs.notify.sms', {}, { msgId: '2' });
    await bus.publish('comm.jobs.notify.push', {}, { msgId: '3' });
    await sleep(20);
    expect(seen).toEqual(['comm.jobs.notify.email', 'comm.jobs.notify.sms']);
    await consumer.stop();
    await bus.close();
  });

  it('refuses a durable whose filter overlaps another durable (as a JetStream work queue does)', async () => {
    const bus = createInProcessBus();
    await bus.consume({ durable: 'publish', subjects: ['comm.jobs.publish.>'] }, async () => undefined);
    await expect(bus.consume({ durable: 'facebook', subjects: ['comm.jobs.*.facebook'] }, async () => undefined)).rejects.toThrow(/overlaps/);
    await bus.close();
  });

  it('close() cancels pending redeliveries and waits for handlers', async () => {
    const bus = createInProcessBus();
    let calls = 0;
    await bus.consume({ durable: 'w', subjects: ['comm.jobs.w'], backoffMs: [60_000] }, async () => {
      calls += 1;
      throw new Error('later');
    });
    await bus.publish('comm.jobs.w', {}, { msgId: 'w' });
    await sleep(20);
    await bus.close();
    expect(calls).toBe(1);
    await expect(bus.ping()).rejects.toThrow(/closed/);
  });

  it('matches NATS wildcards', () => {
    expect(subjectMatches('comm.jobs.>', 'comm.jobs.publish.facebook')).toBe(true);
    expect(subjectMatches('comm.jobs.>', 'comm.jobs')).toBe(false);
    expect(subjectMatches('comm.jobs.*.facebook', 'comm.jobs.publish.facebook')).toBe(true);
    expect(subjectMatches('comm.jobs.*', 'comm.jobs.publish.facebook')).toBe(false);
    expect(filtersOverlap('comm.jobs.publish.*', 'comm.jobs.*.email')).toBe(true);
    expect(filtersOverlap('comm.jobs.publish.*', 'comm.jobs.notify.*')).toBe(false);
    expect(filtersOverlap('comm.jobs.a', 'comm.jobs.a.>')).toBe(false);
  });
});
