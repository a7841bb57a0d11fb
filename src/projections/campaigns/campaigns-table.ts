import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { Migration } from 'kysely/migration';

export interface CampaignsTable {
  campaigns: {
    id: string;
    name: string;
    description: string;
    status: string;
    start_date: Date;
    end_date: Date;
    target_audience: unknown;
    budget: string;
    success_metrics: unknown;
    channels: unknown;
    priority: number;
    revision: number;
    created_at: Date;
    updated_at: Date;
  };
}

export const campaignsMigrations: Record<string, Migration> = {
  '0100_campaigns_read_model': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('campaigns')
        .ifNotExists()
        .addColumn('id', 'uuid', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('start_date', 'timestamptz', (c) => c.notNull())
        .addColumn('end_date', 'timestamptz', (c) => c.notNull())
        .addColumn('target_audience', 'jsonb', (c) => c.notNull())
        .addColumn('budget', 'numeric(14, 2)', (c) => c.notNull())
        .addColumn('success_metrics', 'jsonb', (c) => c.notNull())
        .addColumn('channels', 'jsonb', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('campaigns_status_created').ifNotExists().on('campaigns').columns(['status', 'created_at', 'id']).execute();
      await db.schema.createIndex('campaigns_created').ifNotExists().on('campaigns').columns(['created_at', 'id']).execute();
    },
  },
};
