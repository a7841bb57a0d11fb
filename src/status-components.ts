import type { SharedDatabase } from './infrastructure/database/kysely.js';
import { sql as rawSql } from 'kysely';
import type { NamedBus } from './infrastructure/bus/create-bus.js';
import type { SqlClient } from './infrastructure/database/sql-client.js';
import { formatPosition, type EventStore } from './infrastructure/event-store/event-store.js';
import type { StatusComponent } from './infrastructure/http/status-routes.js';
import type { EventStoreKind } from './infrastructure/storage.js';
import { readAllCheckpoints } from './projections/checkpoints.js';
import type { Projector } from './projections/projector.js';
import { projections } from './projections/registry.js';

const pendingCap = 1000;

interface Parts {
  sql: SqlClient;
  db: SharedDatabase;
  store: EventStore;
  storeKind: EventStoreKind;
  bus: NamedBus;
  projectors: Projector[];
}

/** The components GET /api/communication/status reports on. */
export function statusComponents(parts: Parts): StatusComponent[] {
  return [
    {
      name: 'event_store',
      critical: true,
      async check() {
        const started = performance.now();
        await parts.store.ping();
        const head = await parts.store.headPosition();
        return { status: 'up', kind: parts.storeKind, head_position: head ? formatPosition(head) : null, latency_ms: round(performance.now() - started) };
      },
    },
    {
      name: 'read_models',
      critical: true,
      async check() {
        const started = performance.now();
        await rawSql`select 1`.execute(parts.db);
        return { status: 'up', kind: parts.sql.kind, latency_ms: round(performance.now() - started) };
      },
    },
    {
      name: 'message_bus',
      critical: false,
      async check() {
        await parts.bus.ping();
        return { status: 'up', kind: parts.bus.kind };
      },
    },
    {
      name: 'projections',
      critical: false,
      async check() {
        const stored = await readAllCheckpoints(parts.db);
        const local = new Map(parts.projectors.map((p) => [p.projection.name, p.state]));
        const entries = await Promise.all(
          projections.map(async (projection) => {
            const checkpoint = local.get(projection.name)?.checkpoint ?? stored.get(projection.name) ?? { position: null, eventsApplied: 0, lastEventAt: null };
            // What the projection has still to apply, counted up to a cap: the status route must stay cheap.
            const pending = await parts.store.readAll({ after: checkpoint.position ?? 'start', filter: projection.filter, maxCount: pendingCap });
            return {
              name: projection.name,
              running_here: local.get(projection.name)?.running ?? false,
              position: checkpoint.position ? formatPosition(checkpoint.position) : null,
              events_applied: checkpoint.eventsApplied,
              pending_events: pending.length,
              pending_capped: pending.length === pendingCap,
              lag_ms: pending[0] ? Math.max(0, Date.now() - pending[0].createdAt.getTime()) : 0,
              last_error: local.get(projection.name)?.lastError ?? null,
            };
          }),
        );
        const failing = entries.some((e) => e.last_error);
        return { status: failing ? 'degraded' : 'up', projections: entries };
      },
    },
  ];
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
