import type { Kysely } from 'kysely';
import type { PlatformConnectionEvent } from '../../domain/platform-connection.js';
import { occurredAt, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Projection } from '../projection.js';
import { connectionsMigrations, type ConnectionRow, type ConnectionsTable } from './connections-table.js';

/** The platform connections read model: the latest state of each connection-<platform> stream. */
export const connectionsProjection: Projection = {
  name: 'platform_connections',
  filter: { categories: ['connection'] },
  migrations: connectionsMigrations,

  async reset(trx) {
    await (trx as Kysely<ConnectionsTable>).deleteFrom('platform_connections').execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<ConnectionsTable>;
    const platforms = [...new Set(events.map((event) => (event.data as { platform: string }).platform))];
    if (platforms.length === 0) return;
    const rows = new Map((await db.selectFrom('platform_connections').selectAll().where('platform', 'in', platforms).execute()).map((row) => [row.platform, row]));
    const changed = new Set<string>();
    for (const event of events) {
      const row = applyEvent(rows.get((event.data as { platform: string }).platform), event);
      if (!row) continue;
      rows.set(row.platform, row);
      changed.add(row.platform);
    }
    for (const platform of changed) {
      const row = rows.get(platform)!;
      const values = { ...row, scopes: JSON.stringify(row.scopes) as unknown as string[] };
      await db
        .insertInto('platform_connections')
        .values(values)
        .onConflict((oc) => oc.column('platform').doUpdateSet(values))
        .execute();
    }
  },
};

function applyEvent(row: ConnectionRow | undefined, recorded: RecordedEvent): ConnectionRow | undefined {
  const event = { type: recorded.type, data: recorded.data } as PlatformConnectionEvent;
  if (!(event.type in handlers)) return row;
  const at = occurredAt(recorded);
  const base: ConnectionRow = row ?? {
    platform: event.data.platform,
    account: event.data.account,
    status: 'connected',
    status_since: null,
    via_oauth: false,
    scopes: [],
    expires_at: null,
    refreshable: false,
    connected_at: null,
    refreshed_at: null,
    expiry_warned_at: null,
    problem_reason: null,
    problem_message: null,
    updated_at: at,
  };
  return { ...base, ...handlers[event.type](event as never), account: event.data.account, updated_at: at };
}

type Handlers = { [T in PlatformConnectionEvent['type']]: (event: Extract<PlatformConnectionEvent, { type: T }>) => Partial<ConnectionRow> };

const handlers: Handlers = {
  PlatformAuthorizationFailed: ({ data }) => ({ status: 'needs_reconnect', status_since: new Date(data.detected_at), problem_reason: 'token_refused', problem_message: data.message }),
  PlatformConnectionRestored: ({ data }) => ({ status: 'connected', status_since: new Date(data.restored_at), problem_reason: null, problem_message: null }),
  PlatformConnected: ({ data }) => ({
    status: 'connected',
    status_since: new Date(data.connected_at),
    via_oauth: true,
    scopes: data.scopes,
    expires_at: data.expires_at ? new Date(data.expires_at) : null,
    refreshable: data.refreshable,
    connected_at: new Date(data.connected_at),
    refreshed_at: null,
    expiry_warned_at: null,
    problem_reason: null,
    problem_message: null,
  }),
  PlatformTokenRefreshed: ({ data }) => ({ via_oauth: true, scopes: data.scopes, expires_at: data.expires_at ? new Date(data.expires_at) : null, refreshed_at: new Date(data.refreshed_at) }),
  PlatformConnectionNeedsReconnect: ({ data }) => ({ status: 'needs_reconnect', status_since: new Date(data.detected_at), problem_reason: data.reason, problem_message: data.message }),
  PlatformTokenExpiring: ({ data }) => ({ expiry_warned_at: new Date(data.warned_at) }),
};
