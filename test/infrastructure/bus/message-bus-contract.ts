/**
 * The behaviour every MessageBus adapter must have. Each test uses its own subjects and durables
 * (random suffix) so runs against a shared server do not interfere.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADERS,
  type BusMessage,
  type ConsumeOptions,
  type Consumer,
  type MessageBus,
} from '../../../src/infrastructure/bus/message-bus.js';

export interface BusUnderTest {
  bus: MessageBus;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check() passes (or its last failure after timeoutMs). */
async function eventually(check: () => void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(20);
    }
  }
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export function messageBusContract(name: string, setup: () => Promise<BusUnderTest>): void {
  describe(`MessageBus contract: ${name}`, () => {
    let under: BusUnderTest;
    let bus: MessageBus;
    let consumers: Consumer[];
    let suffix: string;

    beforeEach(async () => {
      under = await setup();
      bus = under.bus;
      consumers = [];
      suffix = randomBytes(5).toString('hex');
    });

    afterEach(async () => {
      await Promise.all(consumers.map((c) => c.stop()));
      await under.cleanup();
    });

    const subject = (name: string) => `${bus.subjectPrefix}.test.${suffix}.${name}`;
    const durable = (name: string) => `${name}_${suffix}`;
    const consume = async <T>(options: ConsumeOptions, handler: (m: BusMessage<T>) => Promise<void>) => {
      const consumer = await bus.consume<T>(options, handler);
      consumers.push(consumer);
      return consumer;
    };
    const fast = { backoffMs: [50, 100], ackWaitMs: 5_000 };

    it('delivers a published message with its data, headers and id', async () => {
      const received: BusMessage<{ text: string; n: number }>[] = [];
      await consume<{ text: string; n: number }>({ durable: durable('rt'), subjects: [subject('rt')] }, async (m) => {
        received.push(m);
      });
      const result = await bus.publish(subject('rt'), { text: 'héllo', n: 1 }, { msgId: `m-${suffix}`, headers: { 'Correlation-Id': 'c-1' } });

      expect(result).toEqual({ duplicate: false });
      await eventually(() => expect(received).toHaveLength(1));
      const [m] = received;
      expect(m).toMatchObject({ id: `m-${suffix}`, subject: subject('rt'), data: { text: 'héllo', n: 1 }, deliveryCount: 1 });
      expect(m?.headers).toEqual({ 'Correlation-Id': 'c-1' });
    });

    it('keeps messages published before any consumer exists (work queue)', async () => {
      await bus.publish(subject('early'), 1, { msgId: `e1-${suffix}` });
      await bus.publish(subject('early'), 2, { msgId: `e2-${suffix}` });
      const received: number[] = [];
      await consume<number>({ durable: durable('early'), subjects: [`${bus.subjectPrefix}.test.${suffix}.*`] }, async (m) => {
        received.push(m.data);
      });
      await eventually(() => expect(received.sort()).toEqual([1, 2]));
    });

    it('de-duplicates publishes by msgId', async () => {
      const first = await bus.publish(subject('dup'), { v: 1 }, { msgId: `d-${suffix}` });
      const second = await bus.publish(subject('dup'), { v: 2 }, { msgId: `d-${suffix}` });
      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);

      const received: unknown[] = [];
      await consume({ durable: durable('dup'), subjects: [subject('dup')] }, async (m) => {
        received.push(m.data);
      });
      await eventually(() => expect(received).toEqual([{ v: 1 }]));
      await sleep(200);
      expect(received).toEqual([{ v: 1 }]);
    });

    it('redelivers after a handler failure, with the delivery count increasing and the backoff applied', async () => {
      const deliveries: { count: number; at: number }[] = [];
      await consume({ durable: durable('retry'), subjects: [subject('retry')], maxDeliver: 5, ...fast }, async (m) => {
        deliveries.push({ count: m.deliveryCount, at: Date.now() });
        if (m.deliveryCount < 3) throw new Error('platform unavailable');
      });
      await bus.publish(subject('retry'), {}, { msgId: `r-${suffix}` });

      await eventually(() => expect(deliveries.map((d) => d.count)).toEqual([1, 2, 3]));
      const gaps = deliveries.slice(1).map((d, i) => d.at - (deliveries[i]?.at ?? 0));
      expect(gaps[0]).toBeGreaterThanOrEqual(40);
      expect(gaps[1]).toBeGreaterThanOrEqual(90);
      await sleep(300);
      expect(deliveries).toHaveLength(3); // acked on success: no more deliveries
    });

    it('dead-letters after maxDeliver failures, with the reason, subject and count readable on the dead subject', async () => {
      let attempts = 0;
      await consume({ durable: durable('poison'), subjects: [subject('poison')], maxDeliver: 3, ...fast }, async () => {
        attempts += 1;
        throw new Error('invalid access token');
      });
      const dead: BusMessage[] = [];
      await consume({ durable: durable('dead'), subjects: [bus.deadLetterSubject(subject('poison'))] }, async (m) => {
        dead.push(m);
      });
      await bus.publish(subject('poison'), { post: 42 }, { msgId: `p-${suffix}`, headers: { 'Correlation-Id': 'c-2' } });

      await eventually(() => expect(dead).toHaveLength(1));
      const [m] = dead;
      expect(m?.subject).toBe(bus.deadLetterSubject(subject('poison')));
      expect(m?.data).toEqual({ post: 42 });
      expect(m?.headers).toMatchObject({
        'Correlation-Id': 'c-2',
        [DEAD_LETTER_HEADERS.reason]: 'invalid access token',
        [DEAD_LETTER_HEADERS.subject]: subject('poison'),
        [DEAD_LETTER_HEADERS.deliveryCount]: '3',
      });
      await sleep(300);
      expect(attempts).toBe(3);
    });

    it('lets a handler dead-letter a message explicitly, without retries', async () => {
      let attempts = 0;
      await consume<{ bad: boolean }>({ durable: durable('reject'), subjects: [subject('reject')], ...fast }, async (m) => {
        attempts += 1;
        await m.deadLetter('payload rejected by the platform:\nbad image');
      });
      const dead: BusMessage[] = [];
      await consume({ durable: durable('rdead'), subjects: [bus.deadLetterSubject(subject('reject'))] }, async (m) => {
        dead.push(m);
      });
      await bus.publish(subject('reject'), { bad: true }, { msgId: `x-${suffix}` });

      await eventually(() => expect(dead).toHaveLength(1));
      expect(dead[0]?.headers[DEAD_LETTER_HEADERS.reason]).toBe('payload rejected by the platform: bad image');
      expect(dead[0]?.headers[DEAD_LETTER_HEADERS.deliveryCount]).toBe('1');
      await sleep(200);
      expect(attempts).toBe(1);
    });

    it('shares the messages of one durable between its consumers, each handled once', async () => {
      const handledBy = new Map<number, string[]>();
      const handler = (who: string) => async (m: BusMessage<number>) => {
        handledBy.set(m.data, [...(handledBy.get(m.data) ?? []), who]);
        await sleep(10);
      };
      const options = { durable: durable('shared'), subjects: [subject('shared')] };
      await consume(options, handler('a'));
      await consume(options, handler('b'));
      const total = 30;
      for (let i = 0; i < total; i++) await bus.publish(subject('shared'), i, { msgId: `s-${i}-${suffix}` });

      await eventually(() => expect(handledBy.size).toBe(total));
      await sleep(200);
      expect([...handledBy.values()].every((who) => who.length === 1)).toBe(true);
      const counts = [...handledBy.values()].flat().reduce((acc, who) => acc.set(who, (acc.get(who) ?? 0) + 1), new Map());
      expect(counts.get('a')).toBeGreaterThan(0);
      expect(counts.get('b')).toBeGreaterThan(0);
    });

    it('runs up to `concurrency` handlers at once', async () => {
      let running = 0;
      let peak = 0;
      let done = 0;
      await consume({ durable: durable('conc'), subjects: [subject('conc')], concurrency: 3 }, async () => {
        running += 1;
        peak = Math.max(peak, running);
        await sleep(50);
        running -= 1;
        done += 1;
      });
      for (let i = 0; i < 9; i++) await bus.publish(subject('conc'), i, { msgId: `c-${i}-${suffix}` });
      await eventually(() => expect(done).toBe(9));
      expect(peak).toBe(3);
    });

    it('stop() waits for in-flight handlers, then takes no more work', async () => {
      const release = deferred();
      const started = deferred();
      const handled: number[] = [];
      let finished = false;
      const consumer = await consume<number>({ durable: durable('stop'), subjects: [subject('stop')] }, async (m) => {
        handled.push(m.data);
        started.resolve();
        await release.promise;
        finished = true;
      });
      await bus.publish(subject('stop'), 1, { msgId: `st1-${suffix}` });
      await started.promise;

      let stopped = false;
      const stopping = consumer.stop().then(() => (stopped = true));
      await sleep(100);
      expect(stopped).toBe(false);
      release.resolve();
      await stopping;
      expect(finished).toBe(true);

      await bus.publish(subject('stop'), 2, { msgId: `st2-${suffix}` });
      await sleep(300);
      expect(handled).toEqual([1]);

      // The durable kept the message for the next consumer.
      const later: number[] = [];
      await consume<number>({ durable: durable('stop'), subjects: [subject('stop')] }, async (m) => {
        later.push(m.data);
      });
      await eventually(() => expect(later).toEqual([2]));
    });

    it('stop() hands a job still running past the deadline back at once, and ignores its late settle', async () => {
      const release = deferred();
      const started = deferred();
      const slow = { durable: durable('handback'), subjects: [subject('handback')], ...fast, ackWaitMs: 30_000 };
      const first = await consume<number>(slow, async () => {
        started.resolve();
        await release.promise;
        throw new Error('finished too late'); // would be a nak, and a redelivery, if it still counted
      });
      await bus.publish(subject('handback'), 1, { msgId: `hb-${suffix}` });
      await started.promise;

      const stopping = Date.now();
      await first.stop({ handBackAfterMs: 200 });
      expect(Date.now() - stopping).toBeLessThan(2_000);

      // Another consumer gets it now, not after the 30 s ack wait.
      const later: BusMessage<number>[] = [];
      await consume<number>(slow, async (m) => {
        later.push(m);
      });
      await eventually(() => expect(later).toHaveLength(1), 5_000);
      expect(later[0]).toMatchObject({ data: 1, deliveryCount: 2 });
      release.resolve(); // the first handler ends: its settle must not count any more
      await sleep(300);
      expect(later).toHaveLength(1);
    });

    it('rejects subjects outside its prefix and data that is not JSON', async () => {
      await expect(bus.publish('elsewhere.jobs.x', {}, { msgId: `o-${suffix}` })).rejects.toThrow(/subject/);
      await expect(bus.publish(`${bus.subjectPrefix}.*`, {}, { msgId: `w-${suffix}` })).rejects.toThrow(/subject/);
      await expect(bus.publish(subject('json'), undefined, { msgId: `u-${suffix}` })).rejects.toThrow(/JSON/);
    });

    it('answers ping while open, and close() is idempotent', async () => {
      await expect(bus.ping()).resolves.toBeUndefined();
      await bus.close();
      await bus.close();
      await expect(bus.publish(subject('closed'), {}, { msgId: `cl-${suffix}` })).rejects.toThrow();
    });
  });
}
