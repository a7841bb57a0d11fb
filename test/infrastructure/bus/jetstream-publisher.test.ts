import { randomBytes } from 'node:crypto';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJetStreamPublisher, JetStreamPublishError } from '../../../src/infrastructure/bus/jetstream-publisher.js';
import { natsUrl } from '../../support/databases.js';

describe.skipIf(!natsUrl)('JetStream publisher (pipelined acknowledgements)', () => {
  const id = randomBytes(5).toString('hex');
  const streamName = `TEST_PUB_${id}`;
  const subject = `test.pub.${id}`;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nc = await connect({ servers: natsUrl });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: streamName, subjects: [`${subject}.>`], duplicate_window: nanos(60_000), max_msgs_per_subject: 1_000 });
  });

  afterAll(async () => {
    await jsm.streams.delete(streamName).catch(() => undefined);
    await nc.close();
  });

  it('stores many messages published at once, each acknowledged with its own sequence, with their headers', async () => {
    const publisher = createJetStreamPublisher(nc);
    const acks = await Promise.all(
      Array.from({ length: 500 }, (_, i) => publisher.publish(`${subject}.many`, JSON.stringify({ i }), { msgId: `many-${i}`, headers: { 'correlation-id': `c-${i}` } })),
    );
    expect(new Set(acks.map((a) => a.seq)).size).toBe(500);
    expect(acks.every((a) => a.stream === streamName && !a.duplicate)).toBe(true);
    const stored = await jsm.streams.getMessage(streamName, { seq: acks[42]!.seq });
    expect(stored?.json()).toEqual({ i: 42 });
    expect(stored?.header.get('correlation-id')).toBe('c-42');
    expect(stored?.header.get('Nats-Msg-Id')).toBe('many-42');
    publisher.close();
  });

  it('says when a msgId was already stored, without storing it twice', async () => {
    const publisher = createJetStreamPublisher(nc);
    const first = await publisher.publish(`${subject}.dup`, '{}', { msgId: 'same' });
    const again = await publisher.publish(`${subject}.dup`, '{}', { msgId: 'same' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ stream: streamName, seq: first.seq, duplicate: true });
    publisher.close();
  });

  it('rejects when no stream stores the subject, and when the acknowledgement does not come in time', async () => {
    const publisher = createJetStreamPublisher(nc, { timeoutMs: 300 });
    const refused = await publisher.publish(`nowhere.${id}`, '{}', { msgId: 'x' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JetStreamPublishError);
    expect((refused as JetStreamPublishError).code).toBe(503);

    // A subject someone answers slowly (a plain subscriber that never replies stands for a stalled server).
    const silent = nc.subscribe(`silent.${id}`);
    const started = Date.now();
    const timedOut = await publisher.publish(`silent.${id}`, '{}', { msgId: 'y' }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(JetStreamPublishError);
    expect((timedOut as Error).message).toMatch(/within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2_500);
    silent.unsubscribe();
    publisher.close();
  });

  it('fails what is still waiting when closed', async () => {
    const publisher = createJetStreamPublisher(nc);
    const silent = nc.subscribe(`silent2.${id}`);
    const waiting = publisher.publish(`silent2.${id}`, '{}', { msgId: 'z' }).catch((e: unknown) => e);
    publisher.close();
    expect(await waiting).toBeInstanceOf(JetStreamPublishError);
    silent.unsubscribe();
  });
});
