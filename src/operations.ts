import type { FastifyInstance } from 'fastify';
import type { NamedBus } from './infrastructure/bus/create-bus.js';
import type { Env } from './infrastructure/config/env.js';
import type { SharedDatabase } from './infrastructure/database/kysely.js';
import type { SqlClient } from './infrastructure/database/sql-client.js';
import type { EventStore } from './infrastructure/event-store/event-store.js';
import { externalServices } from './infrastructure/health/external-services.js';
import { Heartbeat } from './infrastructure/health/heartbeat.js';
import { ServiceHealthBoard } from './infrastructure/health/service-health-board.js';
import { ServiceHealthRecorder } from './infrastructure/health/service-health-recorder.js';
import { registerStatusRoutes } from './infrastructure/http/status-routes.js';
import type { Logger } from './infrastructure/logging/logger.js';
import { countBreakerTransition, observePlatformCall, observeProviderCall } from './infrastructure/metrics/call-metrics.js';
import { observeCommands } from './infrastructure/metrics/command-metrics.js';
import { installHttpMetrics } from './infrastructure/metrics/http-metrics.js';
import { withAppendMetrics } from './infrastructure/metrics/instrumented-event-store.js';
import { Metrics } from './infrastructure/metrics/metrics.js';
import { registerMetricsRoute } from './infrastructure/metrics/metrics-route.js';
import { refreshScrapedGauges } from './infrastructure/metrics/scraped-gauges.js';
import type { EventStoreKind } from './infrastructure/storage.js';
import type { RouterOptions, ProviderRouter } from './platforms/notifications/provider-router.js';
import type { BreakerSettings } from './platforms/social/breaker-connector.js';
import { measureFollowerLag, type FollowedCheckpoint } from './projections/follower-lag.js';
import type { PublicationConnectors } from './reactors/publications/publication-worker.js';
import { statusComponents } from './status-components.js';
import { version } from './version.js';

export interface Watched {
  sql: SqlClient;
  db: SharedDatabase;
  storeKind: EventStoreKind;
  bus: NamedBus;
  router: ProviderRouter;
  connectors: PublicationConnectors;
  followers: FollowedCheckpoint[];
  /** The worker role checks the external services; other roles only show their breakers. */
  heartbeat: boolean;
  /** When each platform's access token expires, as the token vault holds it (read at each status request). */
  tokenExpiries?: () => Promise<Map<string, Date | null>>;
}

/**
 * What operations watch, for one app: the status route, the heartbeat, the service-health events and the metrics
 * (their own registry, GET /metrics). Built as soon as the store is open, so that every append is counted; the rest is
 * attached with expose() once the server and the parts it watches exist.
 */
export class Operations {
  readonly metrics = new Metrics();
  /** The store every other part must use: appends are counted on it. */
  readonly store: EventStore;
  readonly healthEvents: ServiceHealthRecorder;
  private board: ServiceHealthBoard | null = null;
  private heartbeat: Heartbeat | null = null;
  private readonly stopObservingCommands: () => void;

  constructor(
    store: EventStore,
    private readonly env: Pick<Env, 'COMM_METRICS_PUBLIC' | 'COMM_HEARTBEAT_INTERVAL_MS' | 'COMM_STATUS_MAX_LAG_SECONDS'>,
    private readonly logger: Logger,
  ) {
    this.store = withAppendMetrics(store, this.metrics);
    this.healthEvents = new ServiceHealthRecorder(this.store, logger);
    this.stopObservingCommands = observeCommands(this.metrics);
  }

  /** For the provider router: breaker transitions become events and metrics; each send is timed. */
  get providerHooks(): Pick<RouterOptions, 'onBreakerChange' | 'onCall'> {
    return {
      onBreakerChange: (provider, state) => {
        countBreakerTransition(this.metrics, 'provider', provider, state);
        this.healthEvents.breakerChanged({ name: provider, kind: 'provider' }, null, state);
      },
      onCall: (call) => observeProviderCall(this.metrics, call),
    };
  }

  /** For the platform connectors' breakers, likewise. */
  get platformHooks(): Pick<BreakerSettings, 'onStateChange' | 'onCall'> {
    return {
      onStateChange: (platform, account, state) => {
        countBreakerTransition(this.metrics, 'platform', platform, state);
        this.healthEvents.breakerChanged({ name: platform, kind: 'platform' }, account, state);
      },
      onCall: (call) => observePlatformCall(this.metrics, call),
    };
  }

  /** Registers the probes, the status route and GET /metrics on the server, whatever the process's roles. */
  expose(server: FastifyInstance, watched: Watched): void {
    const board = new ServiceHealthBoard(externalServices(watched.router, watched.connectors));
    this.board = board;
    if (watched.heartbeat) this.heartbeat = new Heartbeat(board, this.healthEvents, this.logger, { intervalMs: this.env.COMM_HEARTBEAT_INTERVAL_MS });
    const { sql, db, storeKind, bus, followers } = watched;
    const store = this.store;
    installHttpMetrics(server, this.metrics);
    const maxLagMs = this.env.COMM_STATUS_MAX_LAG_SECONDS * 1000;
    const { tokenExpiries } = watched;
    registerStatusRoutes(server, () => statusComponents({ sql, db, store, storeKind, bus, followers, services: () => board.snapshot(), maxLagMs, tokenExpiries }), version);
    registerMetricsRoute(server, this.metrics, {
      public: this.env.COMM_METRICS_PUBLIC,
      refresh: () =>
        refreshScrapedGauges(
          this.metrics,
          {
            followerLag: () => measureFollowerLag(store, db, followers),
            busStats: async () => (bus.stats ? bus.stats() : null),
            services: () => board.snapshot(),
          },
          this.logger,
        ),
    });
  }

  /** The token vault tells when a platform's or provider's access token expires (shown by the status route). */
  setTokenExpiry(service: string, expiresAt: Date | null): void {
    this.board?.setTokenExpiry(service, expiresAt);
  }

  start(): void {
    this.heartbeat?.start();
  }

  /** First thing on shutdown: connectors about to be shut down must not be checked (and reported failing). */
  stopHeartbeat(): void {
    this.heartbeat?.stop();
  }

  /** Before the store closes: the breaker events still being appended are written first. */
  async stop(): Promise<void> {
    this.stopHeartbeat();
    await this.healthEvents.flush();
    this.stopObservingCommands();
  }
}
