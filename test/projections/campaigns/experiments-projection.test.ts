import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import type { EventStore, Position } from '../../../src/infrastructure/event-store/event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { ExperimentReader } from '../../../src/projections/campaigns/experiment-reader.js';
import { experimentsProjection } from '../../../src/projections/campaigns/experiments-projection.js';
import type { ExperimentsTables } from '../../../src/projections/campaigns/experiments-tables.js';
import { checkpointMigrations } from '../../../src/projections/checkpoints.js';
import { Projector } from '../../../src/projections/projector.js';
import { rebuildProjection } from '../../../src/projections/rebuild.js';
import { testDatabases } from '../../support/databases.js';

const AT = '2025-06-12T08:00:00.000Z';
const logger = createLogger(process.env.TEST_LOG ? 'info' : 'silent');

/** Appends events as their deciders record them (data only: the projection reads no metadata but the timestamp). */
function writer(store: EventStore) {
  let last: Position | null = null;
  const append = async (streamId: string, events: { type: string; data: Record<string, unknown> }[]) => {
    const result = await store.append(streamId, events.map((e) => ({ id: randomUUID(), ...e, metadata: { timestamp: AT, schema_version: 1 } })), { expectedRevision: 'any' });
    last = result.position;
    return result;
  };
  return {
    append,
    /** The position of the last append (on PostgreSQL the store's head can lag behind a transaction still running). */
    last: () => last!,
    /** One notification of the campaign (variant or none) and what happened to it. */
    notification: async (campaign_id: string, variant_id: string | null, steps: ('sent' | 'delivered' | 'failed' | 'opened' | 'clicked' | 'converted')[]) => {
      const notification_id = randomUUID();
      const provider_message_id = `m-${notification_id}`;
      const events: { type: string; data: Record<string, unknown> }[] = [
        {
          type: 'NotificationRequested',
          data: { notification_id, template_id: 'promo', recipient: 'a@example.fr', channel: 'email', data: {}, campaign_id, requested_at: AT, ...(variant_id ? { variant_id } : {}) },
        },
      ];
      for (const step of steps) {
        if (step === 'sent') events.push({ type: 'NotificationSent', data: { notification_id, provider: 'sendgrid', provider_message_id, sent_at: AT } });
        if (step === 'delivered') events.push({ type: 'NotificationDelivered', data: { notification_id, provider_message_id, delivered_at: AT } });
        if (step === 'failed') events.push({ type: 'NotificationFailed', data: { notification_id, reason: 'delivery_failed', error_class: 'bounced', message: 'x', provider: 'sendgrid', provider_message_id, failed_at: AT } });
        if (step === 'opened') {
          events.push({ type: 'NotificationOpened', data: { notification_id, provider_message_id, opened_at: AT, first_open: true } });
          events.push({ type: 'NotificationOpened', data: { notification_id, provider_message_id, opened_at: AT, first_open: false } });
        }
        if (step === 'clicked') events.push({ type: 'NotificationClicked', data: { notification_id, provider_message_id, url: 'https://levieuxmoulin.fr/', clicked_at: AT, first_click: true } });
      }
      await append(`notification-${notification_id}`, events);
      if (steps.includes('converted')) {
        for (let i = 0; i < 2; i++) {
          const conversion_id = randomUUID();
          await append(`conversion-${conversion_id}`, [
            {
              type: 'ConversionAttributed',
              data: { conversion_id, source_event_id: randomUUID(), kind: 'reservation', amount: null, currency: 'EUR', campaign_id, notification_id, publication_id: null, channel: 'email', platform: 'sendgrid', attributed_by: 'notification', occurred_at: AT, attributed_at: AT },
            },
          ]);
        }
      }
      return notification_id;
    },
    winner: (campaign_id: string, variants: string[], winner_variant_id: string) =>
      append(`experiment-${campaign_id}`, [
        {
          type: 'CampaignVariantWinnerChosen',
          data: {
            campaign_id,
            channel_index: 0,
            channel: 'email',
            metric: 'open_rate',
            winner_variant_id,
            reason: 'highest_rate',
            rate_base: 'delivered',
            min_sample: 1,
            test_share: 0.5,
            variants: variants.map((variant_id) => ({ variant_id, template_id: 'promo', requested: 0, sent: 0, delivered: 0, failed: 0, unique_opens: 0, unique_clicks: 0, conversions: 0, sample: 0, rate: null })),
            test_started_at: AT,
            decided_at: AT,
          },
        },
      ]),
  };
}

describe.each(testDatabases())('campaign experiments projection on $name', (database) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database.cleanup());

  const setup = async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...experimentsProjection.migrations }, sql.schema);
    cleanups.push(() => store.close());
    const write = writer(store);
    const project = async () => {
      const projector = new Projector(store, db, experimentsProjection, logger, { batchSize: 4, retryDelayMs: 20 });
      cleanups.push(() => projector.stop());
      await projector.start();
      expect(await projector.waitFor(write.last(), 5_000)).toBe(true);
      return projector;
    };
    return { store, db, write, project, reader: new ExperimentReader(db) };
  };

  it('counts each variant once per notification and step, test and rest apart, and leaves other notifications out', async () => {
    const s = await setup();
    const campaign = randomUUID();
    await s.write.append(`campaign-${campaign}`, [{ type: 'CampaignActivated', data: { campaign_id: campaign, activated_at: AT } }]);
    await s.write.notification(campaign, 'A', ['sent', 'delivered', 'opened', 'clicked', 'converted']);
    await s.write.notification(campaign, 'A', ['sent', 'delivered']);
    await s.write.notification(campaign, 'B', ['sent', 'failed']);
    await s.write.notification(campaign, null, ['sent', 'delivered', 'opened']);
    await s.write.winner(campaign, ['A', 'B'], 'A');
    await s.write.notification(campaign, 'A', ['sent', 'delivered', 'opened']);
    await s.write.append(`campaign-${campaign}`, [{ type: 'CampaignCanceled', data: { campaign_id: campaign, canceled_at: AT, reason: '' } }]);
    const projector = await s.project();

    const test = await s.reader.counts(campaign, 'test');
    expect(Object.fromEntries(test)).toEqual({
      A: { variant_id: 'A', requested: 2, sent: 2, delivered: 2, failed: 0, unique_opens: 1, unique_clicks: 1, conversions: 1 },
      B: { variant_id: 'B', requested: 1, sent: 1, delivered: 0, failed: 1, unique_opens: 0, unique_clicks: 0, conversions: 0 },
    });
    expect(Object.fromEntries(await s.reader.counts(campaign, 'rest'))).toEqual({
      A: { variant_id: 'A', requested: 1, sent: 1, delivered: 1, failed: 0, unique_opens: 1, unique_clicks: 0, conversions: 0 },
    });
    expect(await s.reader.window(campaign)).toEqual({ activated_at: new Date(AT), closed_status: 'canceled' });
    expect([...(await s.reader.decisions(campaign)).entries()].map(([index, d]) => [index, d.winner_variant_id])).toEqual([[0, 'A']]);
    expect(await (s.db as Kysely<ExperimentsTables>).selectFrom('experiment_notifications').select('notification_id').execute()).toHaveLength(4);

    await projector.stop();
    const rows = async () => {
      const db = s.db as Kysely<ExperimentsTables>;
      return Promise.all([
        db.selectFrom('experiment_notifications').selectAll().orderBy('notification_id').execute(),
        db.selectFrom('experiment_campaigns').selectAll().execute(),
        db.selectFrom('experiment_decisions').selectAll().execute(),
      ]);
    };
    const live = await rows();
    await rebuildProjection(s.store, s.db, experimentsProjection, 3);
    expect(await rows()).toEqual(live);
  });
});
