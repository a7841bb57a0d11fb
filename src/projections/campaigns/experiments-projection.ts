import { sql, type Kysely } from 'kysely';
import type { WinnerChosen } from '../../domain/campaign-experiment.js';
import type { RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Projection } from '../projection.js';
import { experimentsMigrations, type ExperimentNotificationRow, type ExperimentsTables } from './experiments-tables.js';

const CHUNK = 1_000;

/** The flag each notification event sets, once per notification. */
const flagOf: Partial<Record<string, keyof Pick<ExperimentNotificationRow, 'sent' | 'delivered' | 'failed' | 'opened' | 'clicked' | 'converted'>>> = {
  NotificationSent: 'sent',
  NotificationDelivered: 'delivered',
  NotificationFailed: 'failed',
  NotificationOpened: 'opened',
  NotificationClicked: 'clicked',
  ConversionAttributed: 'converted',
};

interface CampaignChange {
  campaign_id: string;
  activated_at: Date | null;
  closed_status: string | null;
  closed_at: Date | null;
}

/**
 * Campaign experiments (experiments-tables.ts): the figures of each variant, from the notifications that carry a
 * variant_id, and the windows and winners of the experiments, from the campaign events. A batch is folded in memory
 * and written with a few upserts in the projector's transaction, so a replay never counts twice; notifications
 * outside experiments cost one lookup per batch and leave no row.
 */
export const experimentsProjection: Projection = {
  name: 'campaign_experiments',
  filter: {
    categories: ['campaign', 'experiment', 'notification', 'conversion'],
    eventTypes: [
      'CampaignActivated',
      'CampaignCompleted',
      'CampaignCanceled',
      'CampaignVariantWinnerChosen',
      'NotificationRequested',
      ...Object.keys(flagOf),
    ],
  },
  migrations: experimentsMigrations,

  async reset(trx) {
    const db = trx as Kysely<ExperimentsTables>;
    for (const table of ['experiment_notifications', 'experiment_campaigns', 'experiment_decisions'] as const) await db.deleteFrom(table).execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<ExperimentsTables>;
    const notifications = await loadNotifications(db, events);
    const decided = await loadDecidedVariants(db, events);
    const changedNotifications = new Set<string>();
    const campaigns = new Map<string, CampaignChange>();
    const decisions: ExperimentsTables['experiment_decisions'][] = [];
    const campaign = (id: string) => {
      let change = campaigns.get(id);
      if (!change) campaigns.set(id, (change = { campaign_id: id, activated_at: null, closed_status: null, closed_at: null }));
      return change;
    };

    for (const event of events) {
      const data = event.data as Record<string, unknown>;
      switch (event.type) {
        case 'NotificationRequested': {
          const { notification_id, campaign_id, variant_id } = data as { notification_id: string; campaign_id: string | null; variant_id?: string };
          if (!variant_id || !campaign_id || notifications.has(notification_id)) break;
          const phase = decided.get(campaign_id)?.has(variant_id) ? 'rest' : 'test';
          notifications.set(notification_id, { notification_id, campaign_id, variant_id, phase, sent: false, delivered: false, failed: false, opened: false, clicked: false, converted: false });
          changedNotifications.add(notification_id);
          break;
        }
        case 'CampaignActivated':
          campaign(campaignIdOf(event)).activated_at = new Date(data.activated_at as string);
          break;
        case 'CampaignCompleted':
        case 'CampaignCanceled':
          Object.assign(campaign(campaignIdOf(event)), {
            closed_status: event.type === 'CampaignCompleted' ? 'completed' : 'canceled',
            closed_at: new Date((data.completed_at ?? data.canceled_at) as string),
          });
          break;
        case 'CampaignVariantWinnerChosen': {
          const decision = data as WinnerChosen;
          decisions.push({
            campaign_id: decision.campaign_id,
            channel_index: decision.channel_index,
            winner_variant_id: decision.winner_variant_id,
            decision: JSON.stringify(decision),
            decided_at: new Date(decision.decided_at),
          });
          const variants = decided.get(decision.campaign_id) ?? new Set<string>();
          for (const variant of decision.variants) variants.add(variant.variant_id);
          decided.set(decision.campaign_id, variants);
          break;
        }
        default: {
          const flag = flagOf[event.type];
          const row = typeof data.notification_id === 'string' ? notifications.get(data.notification_id) : undefined;
          if (!flag || !row || row[flag]) break;
          notifications.set(row.notification_id, { ...row, [flag]: true });
          changedNotifications.add(row.notification_id);
        }
      }
    }
    await writeNotifications(db, [...changedNotifications].map((id) => notifications.get(id)!));
    await writeCampaigns(db, [...campaigns.values()]);
    if (decisions.length > 0) {
      await db.insertInto('experiment_decisions').values(decisions).onConflict((oc) => oc.columns(['campaign_id', 'channel_index']).doNothing()).execute();
    }
  },
};

function campaignIdOf(event: RecordedEvent): string {
  return event.streamId.slice('campaign-'.length);
}

/** The stored rows of the notifications the batch's events name. */
async function loadNotifications(db: Kysely<ExperimentsTables>, events: RecordedEvent[]): Promise<Map<string, ExperimentNotificationRow>> {
  const ids = [...new Set(events.flatMap((e) => {
    const id = (e.data as { notification_id?: unknown }).notification_id;
    return typeof id === 'string' && e.type !== 'NotificationRequested' ? [id] : [];
  }))];
  const rows = new Map<string, ExperimentNotificationRow>();
  for (let start = 0; start < ids.length; start += CHUNK) {
    const found = await db.selectFrom('experiment_notifications').selectAll().where('notification_id', 'in', ids.slice(start, start + CHUNK)).execute();
    for (const row of found) rows.set(row.notification_id, row);
  }
  return rows;
}

/** Per campaign the batch requests variant messages for, the variants of its experiments already decided. */
async function loadDecidedVariants(db: Kysely<ExperimentsTables>, events: RecordedEvent[]): Promise<Map<string, Set<string>>> {
  const campaignIds = [...new Set(events.flatMap((e) => {
    const data = e.data as { campaign_id?: unknown; variant_id?: unknown };
    return e.type === 'NotificationRequested' && typeof data.variant_id === 'string' && typeof data.campaign_id === 'string' ? [data.campaign_id] : [];
  }))];
  const decided = new Map<string, Set<string>>();
  if (campaignIds.length === 0) return decided;
  const rows = await db.selectFrom('experiment_decisions').select(['campaign_id', 'decision']).where('campaign_id', 'in', campaignIds).execute();
  for (const row of rows) {
    const variants = decided.get(row.campaign_id) ?? new Set<string>();
    for (const variant of (row.decision as WinnerChosen).variants) variants.add(variant.variant_id);
    decided.set(row.campaign_id, variants);
  }
  return decided;
}

async function writeNotifications(db: Kysely<ExperimentsTables>, rows: ExperimentNotificationRow[]): Promise<void> {
  for (let start = 0; start < rows.length; start += CHUNK) {
    await db
      .insertInto('experiment_notifications')
      .values(rows.slice(start, start + CHUNK))
      .onConflict((oc) =>
        oc.column('notification_id').doUpdateSet((eb) => ({
          sent: eb.ref('excluded.sent'),
          delivered: eb.ref('excluded.delivered'),
          failed: eb.ref('excluded.failed'),
          opened: eb.ref('excluded.opened'),
          clicked: eb.ref('excluded.clicked'),
          converted: eb.ref('excluded.converted'),
        })),
      )
      .execute();
  }
}

async function writeCampaigns(db: Kysely<ExperimentsTables>, rows: CampaignChange[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('experiment_campaigns')
    .values(rows)
    .onConflict((oc) =>
      oc.column('campaign_id').doUpdateSet({
        activated_at: sql`coalesce(experiment_campaigns.activated_at, excluded.activated_at)`,
        closed_status: sql`coalesce(excluded.closed_status, experiment_campaigns.closed_status)`,
        closed_at: sql`coalesce(excluded.closed_at, experiment_campaigns.closed_at)`,
      }),
    )
    .execute();
}
