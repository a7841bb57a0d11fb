import { randomBytes, randomUUID } from 'node:crypto';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIntegrationEventStream } from '../../src/integration/integration-event-stream.js';
import { natsUrl } from '../support/databases.js';

describe.skipIf(!natsUrl)('integration event stream', () => {
  // A random stream and subject prefix per test file, deleted at the end: stream subjects may not overlap.
  const id = randomBytes(5).toString('hex');
  const streamName = `TEST_EVENTS_${id}`;
  const subjectPrefix = `test.events.${id}`;
  let admin: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    admin = await connect({ servers: natsUrl });
    jsm = await jetstreamManager(admin);
  });

  afterAll(async () => {
    for (const name of [streamName, `${streamName}_WQ`]) await jsm.streams.delete(name).catch(() => undefined);
    await admin.close();
  });

  it('creates a file-backed stream that keeps messages for every subscriber, with a 2 minute duplicate window', async () => {
    const stream = await openIntegrationEventStream({ servers: [natsUrl!], streamName, subjectPrefix });
    const { config } = await jsm.streams.info(streamName);
    expect(config).toMatchObject({ subjects: [`${subjectPrefix}.>`], retention: 'limits', storage: 'file', duplicate_window: nanos(120_000) });
    expect(config.max_age).toBe(nanos(365 * 24 * 3_600_000));
    await stream.close();
  });

  it('publishes with the message id, so that the same event twice is stored once', async () => {
    const stream = await openIntegrationEventStream({ servers: [natsUrl!], streamName, subjectPrefix });
    const message = { subject: `${subjectPrefix}.campaign.campaign_created`, msgId: randomUUID(), headers: { 'Event-Type': 'CampaignCreated' }, body: {} as never };
    expect(await stream.publish(message)).toEqual({ duplicate: false });
    expect(await stream.publish(message)).toEqual({ duplicate: true });
    await stream.close();
  });

  it('uses an existing stream as it is', async () => {
    const stream = await openIntegrationEventStream({ servers: [natsUrl!], streamName, subjectPrefix, duplicateWindowMs: 5_000 });
    expect((await jsm.streams.info(streamName)).config.duplicate_window).toBe(nanos(120_000));
    await stream.close();
  });

  it('names the stream that already holds the subjects when given another name', async () => {
    await expect(openIntegrationEventStream({ servers: [natsUrl!], streamName: `${streamName}_OTHER`, subjectPrefix })).rejects.toThrow(
      `NATS stream ${streamName} already holds ${subjectPrefix}.>`,
    );
  });

  it('refuses to publish into a work queue, where each event would reach one subscriber only', async () => {
    const workQueue = `${streamName}_WQ`;
    await jsm.streams.add({ name: workQueue, subjects: [`${subjectPrefix}_wq.>`], retention: RetentionPolicy.Workqueue });
    await expect(openIntegrationEventStream({ servers: [natsUrl!], streamName: workQueue, subjectPrefix: `${subjectPrefix}_wq` })).rejects.toThrow(
      /not an integration event stream/,
    );
  });
});
