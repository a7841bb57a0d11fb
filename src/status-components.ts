import type { SharedDatabase } from './infrastructure/database/kysely.js';
import { sql as rawSql } from 'kysely';
import type { NamedBus } from './infrastructure/bus/create-bus.js';
import type { SqlClient } from './infrastructure/database/sql-client.js';
import { comparePositions, formatPosition, type EventStore } from './infrastructure/event-store/event-store.js';
import type { StatusComponent } from './infrastructure/http/status-routes.js';
import type { EventStoreKind } from './infrastructure/storage.js';
import { readAllCheckpoints } from './projections/checkpoints.js';
import type { Projector } from './projections/projector.js';

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
        const head = await parts.store.headPosition();
        const stored = await readAllCheckpoints(parts.db);
        const local = new Map(parts.projectors.map((p) => [p.projection.name, p.state]));
        const entries = [...new Set([...stored.keys(), ...local.keys()])].map((name) => {
          const checkpoint = local.get(name)?.checkpoint ?? stored.get(name)!;
          // The head may hold events this projection does not follow, so "behind" is an upper bound.
          const behind = head !== null && (checkpoint.position === null || comparePositions(checkpoint.position, head) < 0);
          return {
            name,
            running_here: local.get(name)?.running ?? false,
            position: checkpoint.position ? formatPosition(checkpoint.position) : null,
            events_applied: checkpoint.eventsApplied,
            last_event_at: checkpoint.lastEventAt?.toISOString() ?? null,
            lag_ms: behind && checkpoint.lastEventAt ? Date.now() - checkpoint.lastEventAt.getTime() : 0,
            last_error: local.get(name)?.lastError ?? null,
          };
        });
        const failing = entries.some((e) => e.last_error);
        return { status: failing ? 'degraded' : 'up', head_position: head ? formatPosition(head) : null, projections: entries };
      },
    },
  ];
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
