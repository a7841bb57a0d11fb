import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/**
 * The campaign experiments read model (A/B/n, see src/domain/campaign-experiment.ts):
 *
 * - experiment_notifications: one row per notification that carries a variant_id, with what happened to it (sent,
 *   delivered, opened, clicked, converted: each counted once) and its phase: `test` when requested before its
 *   experiment's winner was recorded, `rest` after (the held-back audience getting the winner). Figures per variant
 *   are sums over these rows.
 * - experiment_campaigns: when each campaign went live (the start of its test windows) and how it ended.
 * - experiment_decisions: the recorded winners, with the figures they rest on (CampaignVariantWinnerChosen's data).
 */
export interface ExperimentsTables {
  experiment_notifications: {
    notification_id: string;
    campaign_id: string;
    variant_id: string;
    phase: 'test' | 'rest';
    sent: boolean;
    delivered: boolean;
    failed: boolean;
    opened: boolean;
    clicked: boolean;
    converted: boolean;
  };
  experiment_campaigns: {
    campaign_id: string;
    activated_at: Date | null;
    /** completed or canceled; null while the campaign runs. */
    closed_status: string | null;
    closed_at: Date | null;
  };
  experiment_decisions: {
    campaign_id: string;
    channel_index: number;
    winner_variant_id: string;
    decision: unknown;
    decided_at: Date;
  };
}

export type ExperimentNotificationRow = ExperimentsTables['experiment_notifications'];

export const experimentsMigrations: Record<string, Migration> = {
  '0230_campaign_experiments': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('experiment_notifications')
        .ifNotExists()
        .addColumn('notification_id', 'uuid', (c) => c.primaryKey())
        .addColumn('campaign_id', 'uuid', (c) => c.notNull())
        .addColumn('variant_id', 'text', (c) => c.notNull())
        .addColumn('phase', 'text', (c) => c.notNull())
        .addColumn('sent', 'boolean', (c) => c.notNull())
        .addColumn('delivered', 'boolean', (c) => c.notNull())
        .addColumn('failed', 'boolean', (c) => c.notNull())
        .addColumn('opened', 'boolean', (c) => c.notNull())
        .addColumn('clicked', 'boolean', (c) => c.notNull())
        .addColumn('converted', 'boolean', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('experiment_notifications_variant').ifNotExists().on('experiment_notifications').columns(['campaign_id', 'variant_id', 'phase']).execute();
      await db.schema
        .createTable('experiment_campaigns')
        .ifNotExists()
        .addColumn('campaign_id', 'uuid', (c) => c.primaryKey())
        .addColumn('activated_at', 'timestamptz')
        .addColumn('closed_status', 'text')
        .addColumn('closed_at', 'timestamptz')
        .execute();
      await db.schema
        .createTable('experiment_decisions')
        .ifNotExists()
        .addColumn('campaign_id', 'uuid', (c) => c.notNull())
        .addColumn('channel_index', 'integer', (c) => c.notNull())
        .addColumn('winner_variant_id', 'text', (c) => c.notNull())
        .addColumn('decision', 'jsonb', (c) => c.notNull())
        .addColumn('decided_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('experiment_decisions_pk', ['campaign_id', 'channel_index'])
        .execute();
    },
  },
};
