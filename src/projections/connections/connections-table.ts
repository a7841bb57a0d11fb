import { sql } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/** One row per platform whose connection stream has events: what GET /api/communication/connections shows. Never a token. */
export interface ConnectionsTable {
  platform_connections: {
    platform: string;
    account: string;
    status: 'connected' | 'needs_reconnect';
    status_since: Date | null;
    /** Connected through OAuth (PlatformConnected); false: the token comes from platforms.json. */
    via_oauth: boolean;
    scopes: string[];
    expires_at: Date | null;
    refreshable: boolean;
    connected_at: Date | null;
    refreshed_at: Date | null;
    expiry_warned_at: Date | null;
    /** Why the connection needs someone: refresh_refused, token_expired, token_refused (a post was refused). */
    problem_reason: string | null;
    problem_message: string | null;
    updated_at: Date;
  };
}

export type ConnectionRow = ConnectionsTable['platform_connections'];

export const connectionsMigrations: Record<string, Migration> = {
  '0201_platform_connections': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('platform_connections')
        .ifNotExists()
        .addColumn('platform', 'text', (c) => c.primaryKey())
        .addColumn('account', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_since', 'timestamptz')
        .addColumn('via_oauth', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
        .addColumn('expires_at', 'timestamptz')
        .addColumn('refreshable', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('connected_at', 'timestamptz')
        .addColumn('refreshed_at', 'timestamptz')
        .addColumn('expiry_warned_at', 'timestamptz')
        .addColumn('problem_reason', 'text')
        .addColumn('problem_message', 'text')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
    },
  },
};
