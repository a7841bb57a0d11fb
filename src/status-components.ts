import type { SharedDatabase } from './infrastructure/database/kysely.js';
import { sql as rawSql } from 'kysely';
import type { NamedBus } from './infrastructure/bus/create-bus.js';
import type { SqlClient } from './infrastructure/database/sql-client.js';
import { formatPosition, type EventStore } from './infrastructure/event-store/event-store.js';
import type { ServiceSnapshot } from './infrastructure/health/service-health-board.js';
import type { StatusComponent } from './infrastructure/http/status-routes.js';
import type { EventStoreKind } from './infrastructure/storage.js';
import { measureFollowerLag, type FollowedCheckpoint, type FollowerLag } from './projections/follower-lag.js';
import type { Projection } from './projections/projection.js';
import type { Projector } from './projections/projector.js';
import type { Reactor, ReactorDefinition } from './reactors/reactor.js';

const pendingCap = 1000;

interface Parts {
  sql: SqlClient;
  db: SharedDatabase;
  store: EventStore;
  storeKind: EventStoreKind;
  bus: NamedBus;
  /** Every projection and reactor of the module, running in this process or not. */
  followers: FollowedCheckpoint[];
  /** The platform and provider connections as this process sees them. */
  services: () => ServiceSnapshot[];
  /** A projection or reactor whose oldest unhandled event is older than this makes the module degraded. */
  maxLagMs: number;
  /** When each platform's access token expires, from the token vault; a service it does not name shows the board's. */
  tokenExpiries?: () => Promise<Map<string, Date | null>>;
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
    followersComponent('projections', parts, 'projection'),
    followersComponent('reactors', parts, 'reactor'),
    {
      name: 'work_queues',
      critical: false,
      async check() {
        if (!parts.bus.stats) return { status: 'up', kind: parts.bus.kind, dead_letters: null, queues: [] };
        const stats = await parts.bus.stats();
        const queues = stats.queues.map((q) => ({
          name: q.name,
          subjects: q.subjects,
          pending: q.pending,
          ack_pending: q.ackPending,
          redelivered: q.redelivered,
          dead_letters: q.deadLetters,
        }));
        // A dead letter is a job no retry will do: someone has to look at it.
        return { status: stats.deadLetters > 0 ? 'degraded' : 'up', kind: parts.bus.kind, dead_letters: stats.deadLetters, queues };
      },
    },
    {
      name: 'external_services',
      critical: false,
      async check() {
        const expiries = (await parts.tokenExpiries?.()) ?? new Map<string, Date | null>();
        const services = parts.services().map((s) => ({
          name: s.name,
          kind: s.kind,
          account: s.account,
          breaker: s.breaker,
          heartbeat: s.heartbeat && {
            checked_at: s.heartbeat.checkedAt.toISOString(),
            ok: s.heartbeat.ok,
            latency_ms: s.heartbeat.latencyMs,
            error_class: s.heartbeat.errorClass,
            message: s.heartbeat.message,
          },
          heartbeat_supported: s.checkable,
          token_expires_at: (s.kind === 'platform' && expiries.has(s.name) ? expiries.get(s.name) : s.tokenExpiresAt)?.toISOString() ?? null,
        }));
        const failing = services.some((s) => s.breaker === 'open' || s.heartbeat?.ok === false);
        return { status: failing ? 'degraded' : 'up', services };
      },
    },
  ];
}

/** The projections and reactors of the module, with the instances this process runs. */
export function followedCheckpoints(
  projections: readonly Projection[],
  projectors: readonly Projector[],
  reactorDefinitions: readonly ReactorDefinition[],
  reactors: readonly Reactor[],
): FollowedCheckpoint[] {
  return [
    ...projections.map((projection) => ({
      kind: 'projection' as const,
      name: projection.name,
      checkpointName: projection.name,
      filter: projection.filter,
      local: projectors.find((p) => p.projection.name === projection.name),
    })),
    ...reactorDefinitions.map((definition) => ({
      kind: 'reactor' as const,
      name: definition.name,
      checkpointName: `reactor:${definition.name}`,
      filter: definition.filter,
      local: reactors.find((r) => r.definition.name === definition.name),
    })),
  ];
}

function followersComponent(name: 'projections' | 'reactors', parts: Parts, kind: FollowedCheckpoint['kind']): StatusComponent {
  return {
    name,
    critical: false,
    async check() {
      const head = await parts.store.headPosition();
      const lags = await measureFollowerLag(parts.store, parts.db, parts.followers.filter((f) => f.kind === kind), { cap: pendingCap, head });
      const entries = lags.map((lag) => toEntry(lag, parts.maxLagMs));
      const degraded = entries.some((e) => e.last_error || e.lagging);
      return { status: degraded ? 'degraded' : 'up', head_position: head ? formatPosition(head) : null, max_lag_ms: parts.maxLagMs, [name]: entries };
    },
  };
}

function toEntry(lag: FollowerLag, maxLagMs: number) {
  return {
    name: lag.name,
    running_here: lag.runningHere,
    position: lag.position ? formatPosition(lag.position) : null,
    events_applied: lag.eventsApplied,
    pending_events: lag.pendingEvents,
    pending_capped: lag.pendingCapped,
    lag_ms: lag.lagMs,
    lagging: lag.lagMs > maxLagMs,
    last_error: lag.lastError,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
