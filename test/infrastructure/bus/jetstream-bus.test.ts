import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJetStreamBus } from '../../../src/infrastructure/bus/jetstream-bus.js';
import { DEAD_LETTER_HEADERS, type BusMessage } from '../../../src/infrastructure/bus/message-bus.js';
import { natsUrl } from '../../support/databases.js';
import { messageBusContract } from './message-bus-contract.js';
import { queueStatsContract } from './queue-stats-contract.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!natsUrl)('JetStream bus', () => {
  // One random stream (and prefix: stream subjects may not overlap) per test file, deleted at the end.
  const id = randomBytes(5).toString('hex');
  const streamName = `TEST_BUS_${id}`;
  const subjectPrefix = `test.bus.${id}`;
  let admin: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    admin = await connect({ servers: natsUrl });
    jsm = await jetstreamManager(admin);
  });

  afterAll(async () => {
    await jsm.streams.delete(streamName).catch(() => undefined);
    await admin.close();
  });

  const newBus = (servers = natsUrl ?? '') => createJetStreamBus({ servers, streamName, subjectPrefix, onError: () => undefined });

  /** Deletes every durable the test made: the stream is shared by the whole file. */
  async function deleteConsumers(): Promise<void> {
    for await (const info of jsm.consumers.list(streamName)) await jsm.consumers.delete(streamName, info.name);
  }

  messageBusContract('jetstream', async () => {
    // Settle errors are reported, not thrown: a contract run must not have any.
    const errors: unknown[] = [];
    const bus = await createJetStreamBus({ servers: natsUrl ?? '', streamName, subjectPrefix, onError: (e) => errors.push(e) });
    return {
      bus,
      async cleanup() {
        await bus.close();
        await deleteConsumers();
        expect(errors).toEqual([]);
      },
    };
  });

  queueStatsContract('jetstream', async () => {
    const bus = await newBus();
    return {
      bus,
      async cleanup() {
        await bus.close();
        await deleteConsumers();
      },
    };
  });

  it('creates a file-backed work-queue stream with a 2 minute duplicate window', async () => {
    const bus = await newBus();
    const info = await jsm.streams.info(streamName);
    expect(info.config).toMatchObject({ subjects: [`${subjectPrefix}.>`], retention: 'workqueue', storage: 'file' });
    expect(info.config.duplicate_window).toBe(120_000_000_000);
    await bus.close();
  });

  it('updates an existing durable whose settings changed', async () => {
    const bus = await newBus();
    const durable = `upd_${id}`;
    const a = await bus.consume({ durable, subjects: [`${subjectPrefix}.upd.a`], ackWaitMs: 10_000 }, async () => undefined);
    await a.stop();
    const b = await bus.consume({ durable, subjects: [`${subjectPrefix}.upd.b`], ackWaitMs: 20_000 }, async () => undefined);
    const info = await jsm.consumers.info(streamName, durable);
    expect(info.config).toMatchObject({ filter_subject: `${subjectPrefix}.upd.b`, ack_wait: 20_000_000_000 });
    await b.stop();
    await bus.close();
    await deleteConsumers();
  });

  it('keeps a slow handler\'s delivery alive past ack_wait (no duplicate delivery)', async () => {
    const bus = await newBus();
    const deliveries: number[] = [];
    const consumer = await bus.consume({ durable: `slow_${id}`, subjects: [`${subjectPrefix}.slow`], ackWaitMs: 500 }, async (m) => {
      deliveries.push(m.deliveryCount);
      await sleep(1_600);
    });
    await bus.publish(`${subjectPrefix}.slow`, {}, { msgId: `slow-${id}` });
    await expect.poll(() => deliveries.length).toBe(1);
    await sleep(2_000);
    expect(deliveries).toEqual([1]);
    await consumer.stop();
    await bus.close();
    await deleteConsumers();
  });

  it('takes no message it has no free handler for: none waits past ack_wait and goes to another worker as well', async () => {
    const busy = await newBus();
    const other = await newBus();
    const options = { durable: `held_${id}`, subjects: [`${subjectPrefix}.held`], ackWaitMs: 1_000 };
    const handled: { by: string; data: number; deliveryCount: number }[] = [];
    const first = await busy.consume<number>({ ...options, concurrency: 1 }, async (m) => {
      handled.push({ by: 'busy', data: m.data, deliveryCount: m.deliveryCount });
      await sleep(2_500);
    });
    for (let i = 0; i < 4; i++) await busy.publish(`${subjectPrefix}.held`, i, { msgId: `held-${i}-${id}` });
    await expect.poll(() => handled.length).toBe(1);
    const second = await other.consume<number>({ ...options, concurrency: 4 }, async (m) => void handled.push({ by: 'other', data: m.data, deliveryCount: m.deliveryCount }));
    await expect.poll(() => new Set(handled.map((h) => h.data)).size, { timeout: 10_000 }).toBe(4);
    // Long enough for the busy worker to have started whatever it was holding, and for any redelivery.
    await sleep(3_500);
    expect(handled.map((h) => h.data).sort()).toEqual([0, 1, 2, 3]);
    expect(handled.every((h) => h.deliveryCount === 1)).toBe(true);
    await Promise.all([first.stop(), second.stop()]);
    await Promise.all([busy.close(), other.close()]);
    await deleteConsumers();
  });

  it('an ordered durable hands out one message at a time across processes, in the order stored', async () => {
    const a = await newBus();
    const b = await newBus();
    const options = { durable: `ordered_${id}`, subjects: [`${subjectPrefix}.ordered`], ordered: true, concurrency: 4 };
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    const handler = async (m: BusMessage<number>) => {
      running++;
      most = Math.max(most, running);
      seen.push(m.data);
      await sleep(20);
      running--;
    };
    const consumers = [await a.consume<number>(options, handler), await b.consume<number>(options, handler)];
    for (let i = 0; i < 20; i++) await a.publish(`${subjectPrefix}.ordered`, i, { msgId: `ordered-${i}-${id}` });
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(20);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(1);
    await Promise.all(consumers.map((c) => c.stop()));
    await Promise.all([a.close(), b.close()]);
    await deleteConsumers();
  });

  it('keeps delivering fresh jobs while more than a thousand wait for a delayed redelivery', async () => {
    const bus = await newBus();
    const durable = `delayed_${id}`;
    const subject = `${subjectPrefix}.delayed`;
    // The server's default max_ack_pending is 1000: the delayed ones alone would fill it.
    const delayed = 1_050;
    await Promise.all(Array.from({ length: delayed }, (_, i) => bus.publish(subject, i, { msgId: `delayed-${i}-${id}` })));
    let naked = 0;
    const fresh: number[] = [];
    const consumer = await bus.consume<number>({ durable, subjects: [subject], concurrency: 64 }, async (m) => {
      if (m.data < delayed) {
        naked++;
        await m.nak(120_000);
      } else fresh.push(m.data);
    });
    await expect.poll(() => naked, { timeout: 20_000 }).toBe(delayed);
    for (let i = 0; i < 5; i++) await bus.publish(subject, delayed + i, { msgId: `delayed-fresh-${i}-${id}` });
    await expect.poll(() => fresh.length, { timeout: 5_000 }).toBe(5);
    expect((await jsm.consumers.info(streamName, durable)).config.max_ack_pending).toBe(-1);
    await consumer.stop();
    await bus.close();
    await deleteConsumers();
    await jsm.streams.purge(streamName, { filter: subject });
  });

  it('hands every job back to a worker on another connection at shutdown, none lost on the pull request left behind', async () => {
    const first = await newBus();
    const options = { durable: `handback_${id}`, subjects: [`${subjectPrefix}.handback`], ackWaitMs: 120_000, concurrency: 16 };
    const started: number[] = [];
    const consumer = await first.consume<number>(options, async (m) => {
      started.push(m.data);
      await sleep(5_000);
    });
    for (let i = 0; i < 6; i++) await first.publish(`${subjectPrefix}.handback`, i, { msgId: `handback-${i}-${id}` });
    await expect.poll(() => started.length).toBe(6);
    await consumer.stop({ handBackAfterMs: 100 });
    await first.close();

    const second = await newBus();
    const received: { data: number; deliveryCount: number }[] = [];
    await second.consume<number>(options, async (m) => void received.push({ data: m.data, deliveryCount: m.deliveryCount }));
    // Long before the 120 s ack wait: each comes back once, as its second delivery.
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(6);
    await sleep(300);
    expect(received.sort((a, b) => a.data - b.data)).toEqual([0, 1, 2, 3, 4, 5].map((data) => ({ data, deliveryCount: 2 })));
    await second.close();
    await deleteConsumers();
  });

  it('dead-letters, without running the handler, a message whose earlier deliveries never completed', async () => {
    const durable = `crash_${id}`;
    const subject = `${subjectPrefix}.crash`;
    // Two deliveries that are never settled, as if the worker had died twice mid-job.
    await jsm.consumers.add(streamName, { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: subject, ack_wait: nanos(300) });
    const bus = await newBus();
    await bus.publish(subject, { job: 1 }, { msgId: `crash-${id}` });
    const raw = await jetstream(admin).consumers.get(streamName, durable);
    for (let i = 0; i < 2; i++) {
      expect(await raw.next({ expires: 2_000 })).not.toBeNull();
      await sleep(400);
    }

    let ran = false;
    const dead: BusMessage[] = [];
    const consumers = [
      await bus.consume({ durable, subjects: [subject], maxDeliver: 2 }, async () => void (ran = true)),
      await bus.consume({ durable: `crashdead_${id}`, subjects: [bus.deadLetterSubject(subject)] }, async (m) => void dead.push(m)),
    ];
    await expect.poll(() => dead.length, { timeout: 10_000 }).toBe(1);
    expect(dead[0]?.headers).toMatchObject({ [DEAD_LETTER_HEADERS.deliveryCount]: '3', [DEAD_LETTER_HEADERS.subject]: subject });
    expect(ran).toBe(false);
    await Promise.all(consumers.map((c) => c.stop()));
    await bus.close();
    await deleteConsumers();
  });

  it('fails to start, without hanging, when the server is unreachable', async () => {
    const port = await freePort();
    await expect(createJetStreamBus({ servers: `nats://127.0.0.1:${port}` })).rejects.toThrow();
  });

  it('survives the server going away and resumes consuming after reconnecting', async () => {
    const proxy = await startProxy(new URL(natsUrl ?? '').port || '4222');
    const bus = await newBus(`nats://127.0.0.1:${proxy.port}`);
    const received: number[] = [];
    const consumer = await bus.consume<number>({ durable: `rc_${id}`, subjects: [`${subjectPrefix}.rc`] }, async (m) => {
      received.push(m.data);
    });
    await bus.publish(`${subjectPrefix}.rc`, 1, { msgId: `rc1-${id}` });
    await expect.poll(() => received, { timeout: 10_000 }).toEqual([1]);
    await expect.poll(async () => (await jsm.consumers.info(streamName, `rc_${id}`)).num_ack_pending).toBe(0);

    await proxy.cut();
    await sleep(500);
    await expect(bus.ping()).rejects.toThrow();
    await proxy.restore();

    // Published from another connection: the consumer must pick it up once reconnected.
    const other = await newBus();
    await other.publish(`${subjectPrefix}.rc`, 2, { msgId: `rc2-${id}` });
    await expect.poll(() => received, { timeout: 20_000, interval: 100 }).toEqual([1, 2]);
    await expect(bus.ping()).resolves.toBeUndefined();

    await consumer.stop();
    await Promise.all([bus.close(), other.close()]);
    await proxy.close();
    await deleteConsumers();
  }, 40_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A TCP proxy to NATS whose connections we can cut, to play "the server went away" without stopping it. */
async function startProxy(targetPort: string) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const port = await freePort();
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(targetPort), '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => {
            sockets.delete(s);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const stopListening = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await listen();
  return {
    port,
    async cut() {
      const closed = stopListening();
      for (const s of sockets) s.destroy();
      await closed;
    },
    restore: listen,
    async close() {
      const closed = stopListening();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
