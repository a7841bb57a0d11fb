/**
 * What stats() must report, for every MessageBus adapter: per durable, the messages waiting, held, redelivered and
 * dead-lettered. Subjects and durables carry a random suffix so runs against a shared server do not interfere.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MessageBus, QueueStats } from '../../../src/infrastructure/bus/message-bus.js';

export function queueStatsContract(name: string, setup: () => Promise<{ bus: MessageBus; cleanup(): Promise<void> }>): void {
  describe(`MessageBus stats: ${name}`, () => {
    it('counts pending, held, redelivered and dead-lettered messages per queue', async () => {
      const { bus, cleanup } = await setup();
      const suffix = randomBytes(5).toString('hex');
      const subject = (s: string) => `${bus.subjectPrefix}.stats.${suffix}.${s}`;
      const queue = async (durable: string): Promise<QueueStats | undefined> => (await bus.stats!()).queues.find((q) => q.name === durable);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      try {
        const slow = await bus.consume({ durable: `slow_${suffix}`, subjects: [subject('slow')], concurrency: 1 }, () => held);
        await bus.publish(subject('slow'), 1, { msgId: `slow1-${suffix}` });
        await bus.publish(subject('slow'), 2, { msgId: `slow2-${suffix}` });
        // One is held by the handler; JetStream may also have handed the second to the client's buffer already.
        await expect.poll(async () => {
          const q = await queue(`slow_${suffix}`);
          return q && { subjects: q.subjects, waiting: q.pending + q.ackPending, held: q.ackPending >= 1, deadLetters: q.deadLetters };
        }, { timeout: 10_000 }).toEqual({ subjects: [subject('slow')], waiting: 2, held: true, deadLetters: 0 });

        let attempts = 0;
        const poison = await bus.consume({ durable: `poison_${suffix}`, subjects: [subject('poison')], maxDeliver: 3, backoffMs: [50, 30_000] }, async () => {
          attempts += 1;
          throw new Error('always fails');
        });
        await bus.publish(subject('poison'), {}, { msgId: `poison-${suffix}` });
        await expect.poll(() => attempts, { timeout: 10_000 }).toBe(2);
        // Delivered twice, now waiting for its third delivery.
        await expect.poll(() => queue(`poison_${suffix}`), { timeout: 10_000 }).toMatchObject({ pending: 0, ackPending: 1, redelivered: 1 });

        await poison.stop();
        const dead = await bus.consume({ durable: `poison2_${suffix}`, subjects: [subject('reject')] }, (m) => m.deadLetter('refused'));
        await bus.publish(subject('reject'), {}, { msgId: `reject-${suffix}` });
        await expect.poll(() => queue(`poison2_${suffix}`), { timeout: 10_000 }).toMatchObject({ pending: 0, ackPending: 0, deadLetters: 1 });
        expect((await bus.stats!()).deadLetters).toBeGreaterThanOrEqual(1);

        release();
        await expect.poll(() => queue(`slow_${suffix}`), { timeout: 10_000 }).toMatchObject({ pending: 0, ackPending: 0 });
        await Promise.all([slow.stop(), dead.stop()]);
      } finally {
        release();
        await cleanup();
      }
    });
  });
}
