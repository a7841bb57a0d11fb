import { randomBytes, randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversionEvents } from '../../../src/domain/conversion.js';
import type { NamedBus } from '../../../src/infrastructure/bus/create-bus.js';
import type { EventStore } from '../../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { openCentralBus } from '../../../src/integration/conversions/central-bus.js';
import { ConversionConsumer } from '../../../src/integration/conversions/conversion-consumer.js';
import { trackedLinkOf } from '../../../src/integration/conversions/tracked-link.js';
import { natsUrl, pgliteDatabase } from '../../support/databases.js';
import { historyWriter } from '../../projections/analytics/analytics-history.js';

const logger = createLogger('silent');
const AT = '2026-12-05T19:30:00.000Z';

const buses: { name: string; env: () => Parameters<typeof openCentralBus>[0] }[] = [
  { name: 'in-process', env: () => ({ COMM_CENTRAL_STREAM: 'CENTRAL', COMM_CENTRAL_SUBJECT_PREFIX: 'central' }) },
];
if (natsUrl) {
  const suffix = randomBytes(4).toString('hex');
  buses.push({ name: 'jetstream', env: () => ({ NATS_URL: natsUrl, COMM_CENTRAL_STREAM: `CENTRAL_T${suffix}`, COMM_CENTRAL_SUBJECT_PREFIX: `central_t${suffix}` }) });
}

describe('tracked links', () => {
  it('read utm_campaign, utm_medium, utm_source and utm_content, and nothing that is not ours', () => {
    const campaign = randomUUID();
    const notification = randomUUID();
    expect(trackedLinkOf(`https://levieuxmoulin.fr/reserver?utm_campaign=${campaign}&utm_medium=social&utm_source=Instagram&utm_content=${notification}&x=1`)).toEqual({
      campaign_id: campaign,
      channel: 'social_media',
      platform: 'instagram',
      content_id: notification,
    });
    expect(trackedLinkOf('https://levieuxmoulin.fr/reserver?utm_campaign=printemps&utm_medium=email')).toBeNull();
    expect(trackedLinkOf('not a url')).toBeNull();
    expect(trackedLinkOf(null)).toBeNull();
  });
});

describe.each(buses)('ConversionRecorded consumed through the $name bus', ({ env }) => {
  const database = pgliteDatabase();
  let store: EventStore;
  let bus: NamedBus;
  let consumer: ConversionConsumer;
  const campaign = randomUUID();
  const publication = randomUUID();
  let notification: string;

  beforeAll(async () => {
    store = await createPostgresEventStore(await database.create(), { pollIntervalMs: 20 });
    const history = historyWriter(store);
    await history.campaign(campaign);
    notification = await history.notification({ campaign_id: campaign, channel: 'sms', provider: 'twilio', at: AT }, ['sent', 'delivered']);
    await history.append(`publication-${publication}`, [
      {
        type: 'PublicationScheduled',
        at: AT,
        data: {
          publication_id: publication,
          content: { title: '', body: 'Pizza', media_urls: [], hashtags: [] },
          platforms: ['facebook', 'instagram'],
          scheduled_time: '2026-12-05T10:00:00Z',
          targeting: null,
          campaign_id: campaign,
          priority: 50,
          max_attempts: 5,
          requested_at: AT,
        },
      },
    ]);
    bus = await openCentralBus(env(), logger);
    consumer = new ConversionConsumer(bus, store, logger, { durable: 'communication', now: () => new Date('2026-12-05T20:00:00.000Z') });
    await consumer.start();
  });
  afterAll(async () => {
    await consumer?.stop();
    await bus?.close();
    const { NATS_URL, COMM_CENTRAL_STREAM } = env();
    if (NATS_URL) {
      const nc = await connect({ servers: NATS_URL });
      await (await jetstreamManager(nc)).streams.delete(COMM_CENTRAL_STREAM).catch(() => undefined);
      await nc.close();
    }
    await store?.close();
    await database.cleanup();
  });

  const recorded = (data: Record<string, unknown>, id: string = randomUUID()) => ({
    id,
    type: 'ConversionRecorded',
    schema_version: 1,
    occurred_at: '2026-12-05T19:59:00Z',
    correlation_id: null,
    causation_id: null,
    data: {
      conversion_id: randomUUID(),
      kind: 'reservation',
      amount: null,
      currency: 'EUR',
      campaign_id: null,
      notification_id: null,
      publication_id: null,
      customer_id: randomUUID(),
      occurred_at: '2026-12-05T19:58:00Z',
      ...data,
    },
  });
  const publish = (message: { id: string } & Record<string, unknown>) => bus.publish(`${bus.subjectPrefix}.conversions.recorded`, message, { msgId: message.id });
  const attributions = async () => (await store.readAll({ filter: { eventTypes: ['ConversionAttributed'] } })).map((e) => ({ id: e.id, data: e.data as Record<string, unknown> }));
  const waitFor = async (conversionId: string) => {
    for (let i = 0; i < 400; i++) {
      const found = (await attributions()).find((a) => a.data.conversion_id === conversionId);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`conversion ${conversionId} was not attributed`);
  };

  it('attributes a conversion to the notification it names, with its campaign, channel and provider, once', async () => {
    const message = recorded({ kind: 'order', amount: 64.5, notification_id: notification });
    await publish(message);
    const attributed = await waitFor(message.data.conversion_id);
    expect(attributed.data).toEqual({
      conversion_id: message.data.conversion_id,
      source_event_id: message.id,
      kind: 'order',
      amount: 64.5,
      currency: 'EUR',
      campaign_id: campaign,
      notification_id: notification,
      publication_id: null,
      channel: 'sms',
      platform: 'twilio',
      attributed_by: 'notification',
      occurred_at: '2026-12-05T19:58:00Z',
      attributed_at: '2026-12-05T20:00:00.000Z',
    });
    expect(conversionEvents.ConversionAttributed.schema.parse(attributed.data)).toEqual(attributed.data);
    // The same message again, then another message about the same conversion: nothing more.
    await consumer.handle({ id: message.id, subject: 'x', data: message, headers: {}, deliveryCount: 2, ack: async () => {}, nak: async () => {}, deadLetter: async () => {} });
    const again = recorded({ ...message.data, notification_id: null, campaign_id: campaign });
    const marker = recorded({ campaign_id: campaign });
    await publish(again);
    await publish(marker);
    await waitFor(marker.data.conversion_id);
    expect((await attributions()).filter((a) => a.data.conversion_id === message.data.conversion_id)).toHaveLength(1);
  });

  it('follows the tracked link to the publication and its platform, or to the campaign', async () => {
    const viaPost = recorded({ landing_url: `https://levieuxmoulin.fr/reserver?utm_campaign=${campaign}&utm_medium=social&utm_source=instagram&utm_content=${publication}` });
    const viaLink = recorded({ landing_url: `https://levieuxmoulin.fr/reserver?utm_campaign=${campaign}&utm_medium=email&utm_source=sendgrid` });
    const named = recorded({ campaign_id: campaign });
    for (const message of [viaPost, viaLink, named]) await publish(message);
    expect((await waitFor(viaPost.data.conversion_id)).data).toMatchObject({ campaign_id: campaign, publication_id: publication, channel: 'social_media', platform: 'instagram', attributed_by: 'publication' });
    expect((await waitFor(viaLink.data.conversion_id)).data).toMatchObject({ campaign_id: campaign, channel: 'email', platform: 'sendgrid', attributed_by: 'tracked_link' });
    expect((await waitFor(named.data.conversion_id)).data).toMatchObject({ campaign_id: campaign, channel: null, platform: null, attributed_by: 'campaign' });
  });

  it('records nothing for a conversion that names nothing of ours, and sets aside a message that breaks the contract', async () => {
    const strangers = recorded({ notification_id: randomUUID(), campaign_id: randomUUID() });
    const broken = { id: randomUUID(), type: 'ConversionRecorded', schema_version: 1, data: { conversion_id: 'x' } };
    const marker = recorded({ campaign_id: campaign });
    for (const message of [strangers, broken, marker]) await publish(message);
    await waitFor(marker.data.conversion_id);
    expect((await attributions()).map((a) => a.data.conversion_id)).not.toContain(strangers.data.conversion_id);
  });
});
