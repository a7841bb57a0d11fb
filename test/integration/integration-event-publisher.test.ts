import { randomBytes, randomUUID } from 'node:crypto';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CommandHandler } from '../../src/commands/command-handler.js';
import { campaignEvents, campaignDecider, campaignFieldsSchema } from '../../src/domain/campaign.js';
import { consentStreamId } from '../../src/domain/consent.js';
import { createKysely, migrateToLatest } from '../../src/infrastructure/database/kysely.js';
import type { EventData } from '../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger, type Logger } from '../../src/infrastructure/logging/logger.js';
import type { IntegrationEnvelope, IntegrationMessage } from '../../src/integration/integration-envelope.js';
import { integrationEventPublisher, startIntegrationEvents } from '../../src/integration/integration-event-publisher.js';
import { recipientHash } from '../../src/integration/recipient-hash.js';
import { checkpointMigrations, readCheckpoint, writeCheckpoint } from '../../src/projections/checkpoints.js';
import { natsUrl, testDatabases } from '../support/databases.js';

const logger = createLogger('silent');
const at = '2025-04-12T15:30:45.000Z';
const email = 'marie.dupont@example.fr';

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function event(type: string, data: unknown): EventData {
  return { id: randomUUID(), type, data, metadata: { correlation_id: 'req-42', causation_id: 'req-42', actor: 'test', timestamp: at, schema_version: 1 } };
}

describe('integration event publisher', () => {
  it('is not started without NATS, and says so once', async () => {
    const info = vi.fn();
    const running = await startIntegrationEvents({ NATS_URL: undefined, COMM_EVENTS_STREAM: 'COMM_EVENTS' }, { store: {} as never, db: {} as never, logger: { info } as unknown as Logger });
    expect(running).toBeNull();
    expect(info).toHaveBeenCalledOnce();
    expect(info.mock.calls[0]![0]).toMatch(/need NATS/);
  });

  it('skips, and logs, an event whose data does not parse, instead of stalling', async () => {
    const published: IntegrationMessage[] = [];
    const error = vi.fn();
    const definition = integrationEventPublisher(async (m) => void published.push(m), 'p', { error } as unknown as Logger);
    await definition.handle({
      id: randomUUID(),
      type: 'PlatformPublished',
      streamId: `publication-${randomUUID()}`,
      revision: 0,
      position: { commit: 1n, prepare: 1n },
      data: { publication_id: 'not a uuid' },
      metadata: {},
      createdAt: new Date(),
    });
    expect(published).toEqual([]);
    expect(error).toHaveBeenCalledOnce();
  });
});

describe.skipIf(!natsUrl).each(testDatabases())('integration events on NATS, $name', (database) => {
  // A random stream and subject prefix per database, deleted at the end: stream subjects may not overlap.
  const id = `${randomBytes(5).toString('hex')}_${database.name}`;
  const streamName = `TEST_INTEGRATION_${id}`;
  const prefix = `test.integration.${id}`;
  const campaignId = randomUUID();
  const notificationId = randomUUID();
  const publicationId = randomUUID();
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;

  const setup = (async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, checkpointMigrations, sql.schema);
    return { store, db };
  })();
  const start = async () => {
    const { store, db } = await setup;
    const running = await startIntegrationEvents({ NATS_URL: natsUrl, COMM_EVENTS_STREAM: streamName }, { store, db, logger, stream: { subjectPrefix: prefix } });
    await running!.reactor.start();
    return running!;
  };
  const messagesInStream = async () => (await jsm.streams.info(streamName)).state.messages;

  /** `count` messages from a durable pull consumer with explicit acks, as a subscribing module reads them. */
  async function consume(durable: string, from: { seq: number } | 'all', count: number): Promise<JsMsg[]> {
    await jsm.consumers.add(streamName, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${prefix}.>`,
      ...(from === 'all' ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.seq }),
    });
    const received: JsMsg[] = [];
    const batch = await (await js.consumers.get(streamName, durable)).fetch({ max_messages: count, expires: 3_000 });
    for await (const m of batch) {
      received.push(m);
      await m.ackAck();
    }
    return received;
  }

  beforeAll(async () => {
    nc = await connect({ servers: natsUrl });
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  });

  afterAll(async () => {
    await jsm.streams.delete(streamName).catch(() => undefined);
    await nc.close();
    const { store } = await setup;
    await store.close();
    await database.cleanup();
  });

  it('publishes each public event once, on its subject, with its headers, and nothing else', async () => {
    const { store } = await setup;
    const campaigns = new CommandHandler(store, campaignDecider, campaignEvents);
    const context = { correlationId: 'req-42', causationId: 'req-42', actor: 'test', now: new Date(at) };
    const fields = campaignFieldsSchema.parse({ name: 'Menu d’été', start_date: '2025-06-01T00:00:00Z', end_date: '2025-08-31T00:00:00Z', budget: 1500 });
    await campaigns.handle(`campaign-${campaignId}`, { type: 'CreateCampaign', campaign_id: campaignId, fields, now: at }, context);
    await campaigns.handle(`campaign-${campaignId}`, { type: 'CancelCampaign', campaign_id: campaignId, reason: 'météo', now: at }, context);
    await store.append(
      `notification-${notificationId}`,
      [event('NotificationRequested', { notification_id: notificationId, template_id: 'promo_ete', recipient: email, channel: 'email', data: { first_name: 'Marie' }, campaign_id: campaignId, requested_at: at })],
      { expectedRevision: 'no_stream' },
    );
    await store.append(
      `publication-${publicationId}`,
      [
        event('PlatformPublishingStarted', { publication_id: publicationId, platform: 'facebook', attempt_id: 'a-1', attempt: 1, started_at: at }),
        event('PlatformPublished', { publication_id: publicationId, platform: 'facebook', attempt_id: 'a-1', post_id: 'fb_1', post_url: null, published_at: at }),
      ],
      { expectedRevision: 'no_stream' },
    );
    await store.append(consentStreamId(email, 'email'), [event('ConsentGranted', { recipient: email, channel: 'email', source: 'crm', at })], { expectedRevision: 'no_stream' });
    await store.append('template-promo_ete', [event('TemplateArchived', { template_id: 'promo_ete', archived_at: at, reason: '' })], { expectedRevision: 'no_stream' });

    const running = await start();
    await until('5 messages', async () => (await messagesInStream()) === 5);
    await running.reactor.stop();
    await running.close();
    expect(await messagesInStream()).toBe(5);

    const messages = await consume('first_read', 'all', 5);
    // Aggregates are published side by side: each one's events in the order recorded, whatever the interleaving.
    expect(messages.map((m) => m.subject).sort()).toEqual(
      [
        `${prefix}.campaign.campaign_created`,
        `${prefix}.campaign.campaign_canceled`,
        `${prefix}.notification.notification_requested`,
        `${prefix}.publication.platform_published`,
        `${prefix}.consent.consent_granted`,
      ].sort(),
    );
    const campaignSubjects = messages.map((m) => m.subject).filter((subject) => subject.startsWith(`${prefix}.campaign.`));
    expect(campaignSubjects).toEqual([`${prefix}.campaign.campaign_created`, `${prefix}.campaign.campaign_canceled`]);
    for (const m of messages) {
      const body = m.json<IntegrationEnvelope>();
      expect(m.headers?.get('Nats-Msg-Id')).toBe(body.id);
      expect(m.headers?.get('Event-Type')).toBe(body.type);
      expect(m.headers?.get('Schema-Version')).toBe('1');
      expect(m.headers?.get('Content-Type')).toBe('application/json');
      expect(m.headers?.get('Correlation-Id')).toBe('req-42');
      expect(m.headers?.get('Causation-Id')).toBe('req-42');
      expect(body).toMatchObject({ schema_version: 1, occurred_at: at, correlation_id: 'req-42', causation_id: 'req-42' });
      // No address, no template variable leaves the module.
      expect(m.string()).not.toMatch(/marie/i);
    }
    const ofType = (type: string) => messages.map((m) => m.json<IntegrationEnvelope>()).find((body) => body.type === type)!;
    expect(ofType('CampaignCreated')).toMatchObject({ aggregate_id: campaignId, data: { campaign_id: campaignId, budget: 1500 } });
    expect(ofType('NotificationRequested')).toMatchObject({
      aggregate_id: notificationId,
      data: { notification_id: notificationId, template_id: 'promo_ete', recipient_hash: recipientHash(email, 'email') },
    });
    expect(ofType('ConsentGranted').aggregate_id).toBe(recipientHash(email, 'email'));
  });

  it('publishes nothing twice when run again from an old checkpoint; a subscriber de-duplicating by id sees each event once', async () => {
    const { db } = await setup;
    await writeCheckpoint(db, 'reactor:integration-events', { position: null, eventsApplied: 0, lastEventAt: null });
    const running = await start();
    await until('the events handled again', async () => (await readCheckpoint(db, 'reactor:integration-events')).eventsApplied === 5);
    await running.reactor.stop();
    await running.close();
    expect(await messagesInStream()).toBe(5);

    // Past the duplicate window JetStream would store a republished event again: the subscriber's id check is the last line.
    const [first] = await consume('copy_source', { seq: 1 }, 1);
    const h = natsHeaders();
    for (const [key, values] of first!.headers ?? []) if (!key.startsWith('Nats-')) h.set(key, values[0]!);
    await js.publish(first!.subject, first!.data, { headers: h });

    const seen = new Set<string>();
    const handled: string[] = [];
    for (const m of await consume('deduplicating', 'all', 6)) {
      const { id } = m.json<IntegrationEnvelope>();
      if (seen.has(id)) continue;
      seen.add(id);
      handled.push(id);
    }
    expect(await messagesInStream()).toBe(6);
    expect(handled).toHaveLength(5);
  });

  it('lets a subscriber replay from a stream sequence', async () => {
    const fromStart = await consume('replay_from_1', { seq: 1 }, 6);
    expect(fromStart.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const fromThird = await consume('replay_from_3', { seq: 3 }, 4);
    expect(fromThird.map((m) => m.seq)).toEqual([3, 4, 5, 6]);
    expect(fromThird.map((m) => m.subject)).toEqual(fromStart.slice(2).map((m) => m.subject));
  });
});
