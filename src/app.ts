import type { FastifyInstance } from 'fastify';
import { registerCampaignCommandRoutes } from './commands/campaign-routes.js';
import { registerConsentCommandRoutes } from './commands/consent-routes.js';
import type { NotificationFields } from './domain/notification.js';
import { ConsentPolicy, messageKindOf } from './platforms/notifications/compliance/consent-policy.js';
import { ensureUnsubscribeSecret } from './platforms/notifications/compliance/unsubscribe-secret.js';
import { unsubscribeHeaderFactory } from './platforms/notifications/compliance/unsubscribe-token.js';
import { registerConsentQueryRoutes } from './projections/consents/consent-query-routes.js';
import { ConsentsReader } from './projections/consents/consents-reader.js';
import { registerDeliveryWebhookRoutes, inboundSecretsFromConfig } from './commands/delivery-webhook-routes.js';
import { registerNotificationCommandRoutes } from './commands/notification-routes.js';
import { registerTemplateCommandRoutes } from './commands/template-routes.js';
import { ensureAdminKey } from './infrastructure/auth/admin-key.js';
import { ApiKeyStore, apiKeyMigrations } from './infrastructure/auth/api-keys.js';
import { createMessageBus } from './infrastructure/bus/create-bus.js';
import type { NamedBus } from './infrastructure/bus/create-bus.js';
import type { ConfigFiles } from './infrastructure/config/config-files.js';
import type { Env } from './infrastructure/config/env.js';
import { createKysely, migrateToLatest, type SharedDatabase } from './infrastructure/database/kysely.js';
import type { SqlClient } from './infrastructure/database/sql-client.js';
import type { EventStore } from './infrastructure/event-store/event-store.js';
import { withCoalescedAccess } from './infrastructure/event-store/coalescing-event-store.js';
import { idempotencyMigrations } from './infrastructure/http/idempotency.js';
import { createHttpServer } from './infrastructure/http/server.js';
import { httpSecurityFromEnv } from './infrastructure/http/http-security.js';
import { registerApiKeyRoutes } from './commands/api-key-routes.js';
import type { Logger } from './infrastructure/logging/logger.js';
import { openEventStore, openSqlClient, type EventStoreKind } from './infrastructure/storage.js';
import { registerCampaignQueryRoutes } from './projections/campaigns/campaign-query-routes.js';
import { registerExperimentQueryRoutes } from './projections/campaigns/experiment-query-routes.js';
import { registerNotificationQueryRoutes } from './projections/notifications/notification-query-routes.js';
import { registerPublicationQueryRoutes } from './projections/publications/publication-query-routes.js';
import { TemplateCatalogue } from './projections/templates/template-catalogue.js';
import { registerTemplateQueryRoutes } from './projections/templates/template-query-routes.js';
import { ProviderRouter } from './platforms/notifications/provider-router.js';
import { providersFromConfig, ratesFromConfig } from './platforms/notifications/providers-from-config.js';
import { NotificationWorker } from './reactors/notifications/notification-worker.js';
import { notificationDispatch } from './reactors/notifications/notification-dispatch.js';
import { TemplateRenderer } from './reactors/notifications/template-renderer.js';
import { Reactor } from './reactors/reactor.js';
import { integrationEventPublisher, startIntegrationEvents } from './integration/integration-event-publisher.js';
import { webhookDeliveryMigrations } from './webhooks/webhook-deliveries.js';
import { webhookFanout } from './webhooks/webhook-fanout.js';
import { registerWebhookRoutes } from './webhooks/webhook-routes.js';
import { WebhookSender } from './webhooks/webhook-sender.js';
import { webhookSubscriptionMigrations } from './webhooks/webhook-subscriptions.js';
import type { SecretVault } from './infrastructure/secrets/secret-vault.js';
import { secretsMigrations } from './infrastructure/secrets/secrets-table.js';
import { startVault } from './infrastructure/secrets/start-vault.js';
import { notificationsWithVaultSecrets } from './infrastructure/secrets/vault-config-secrets.js';
import { oauthStateMigrations, PlatformConnections } from './platform-connections.js';
import type { TokenRefresher } from './reactors/connections/token-refresher.js';
import { ConfigError } from './infrastructure/config/env.js';
import { checkpointMigrations } from './projections/checkpoints.js';
import { followerLeasesFor } from './projections/follower-lease.js';
import { Projector } from './projections/projector.js';
import { ReadPositions } from './projections/read-positions.js';
import { projections } from './projections/registry.js';
import { followedCheckpoints } from './status-components.js';
import { Operations } from './operations.js';
import { version } from './version.js';
import { registerPublicationCommandRoutes } from './commands/publication-routes.js';
import { PublicationSlotBooker } from './commands/publication-slot-booker.js';
import { connectorsFromConfig } from './platforms/social/connectors-from-config.js';
import { slotRulesFromConfig } from './platforms/social/slot-rules-from-config.js';
import { PublicationScheduler, type PublicationSchedulerOptions } from './reactors/publications/publication-scheduler.js';
import { attemptSettlesAfterMs, PublicationWorker, type PublicationConnectors } from './reactors/publications/publication-worker.js';
import type { Platform } from './domain/publication-events.js';
import { facebookWebhookSecretsFromConfig, registerPlatformWebhookRoutes } from './commands/platform-webhook-routes.js';
import { registerEngagementQueryRoutes } from './projections/engagement/engagement-query-routes.js';
import { BestTimes } from './projections/engagement/best-times.js';
import { registerBestTimesRoutes } from './projections/engagement/best-times-routes.js';
import { registerAnalyticsQueryRoutes } from './projections/analytics/analytics-query-routes.js';
import { CampaignResults, campaignResultsReactors } from './reactors/analytics/campaign-results.js';
import { performanceChecksMigrations } from './reactors/analytics/campaign-performance-monitor.js';
import { spendPriceLookupMigrations } from './reactors/spend/spend-price-lookups.js';
import { EngagementPoller } from './reactors/publications/engagement-poller.js';
import { registerCampaignLaunchRoutes } from './commands/campaign-launch-routes.js';
import { PublicationPublisher } from './commands/publication-publisher.js';
import type { MessageBus } from './infrastructure/bus/message-bus.js';
import { openCrmBus } from './integration/crm/crm-bus.js';
import { CrmConsumer } from './integration/crm/crm-consumer.js';
import { AudienceReader } from './projections/audience/audience-reader.js';
import { registerAudienceQueryRoutes } from './projections/audience/audience-query-routes.js';
import { audienceMigrations } from './projections/audience/audience-table.js';
import { AudienceWriter } from './projections/audience/audience-writer.js';
import { registerPromotionFeedRoutes } from './projections/promotions/promotion-feed-routes.js';
import { CampaignClock } from './reactors/campaigns/campaign-clock.js';
import { campaignFanout } from './reactors/campaigns/campaign-fanout.js';
import { campaignFanoutProgressMigrations } from './reactors/campaigns/campaign-fanout-progress.js';

export interface AppOptions {
  env: Env;
  logger: Logger;
  files: ConfigFiles;
  /** Run the HTTP API (default true). */
  api?: boolean;
  /** Run the projectors in this process (default true). */
  projector?: boolean;
  /** Run the reactors and the notification worker in this process (default true). */
  worker?: boolean;
  /** Inject storage (tests); the app then leaves closing it to the caller. */
  sql?: SqlClient;
  store?: EventStore;
  bus?: NamedBus;
  /** Social platform connectors (tests); default: built from platforms.json, each behind a circuit breaker. */
  connectors?: PublicationConnectors;
  /** Scheduler tuning (tests, bench). */
  scheduler?: PublicationSchedulerOptions;
  /** Where the one-time admin key banner goes (default stdout). */
  print?: (line: string) => void;
}

export interface App {
  server: FastifyInstance;
  sql: SqlClient;
  db: SharedDatabase;
  store: EventStore;
  bus: NamedBus;
  projectors: Projector[];
  positions: ReadPositions;
  /** Notification templates: API versions from the read model, file templates as version 0. */
  templates: TemplateCatalogue;
  reactors: Reactor[];
  worker: NotificationWorker | null;
  publicationWorker: PublicationWorker | null;
  scheduler: PublicationScheduler | null;
  /** Platform tokens and other credentials, encrypted at rest. */
  vault: SecretVault;
  /** Refreshes OAuth access tokens before they expire (worker processes). */
  tokenRefresher: TokenRefresher | null;
  /** The CRM events consumer and the bus it reads (in-process without NATS: tests publish to it), in worker processes. */
  crm: { bus: MessageBus; consumer: CrmConsumer } | null;
  /** Activates and completes campaigns on their dates (worker processes, unless COMM_CAMPAIGN_CLOCK_MS is 0). */
  campaignClock: CampaignClock | null;
  /** Spend records, performance alerts and the central server's conversions (worker processes). */
  campaignResults: CampaignResults | null;
  /** Starts projectors and, unless port is null, listens; returns the address. */
  start(listen?: { port: number; host: string } | null): Promise<string | null>;
  stop(): Promise<void>;
}

export async function createApp(options: AppOptions): Promise<App> {
  const { env, logger } = options;
  const owned: (() => Promise<void>)[] = [];
  const sql = options.sql ?? (await openSqlClient(env));
  if (!options.sql) owned.push(() => sql.close());
  let storeKind: EventStoreKind = sql.kind;
  let store = options.store;
  if (!store) {
    const opened = await openEventStore(env, sql);
    store = opened.store;
    storeKind = opened.kind;
    const toClose = store;
    owned.unshift(() => toClose.close());
  }
  // Concurrent commands (a worker's dozens of notifications in flight) share one read and one append round trip.
  store = withCoalescedAccess(store);
  // Status, heartbeat and metrics; every append is counted from here on.
  const operations = new Operations(store, env, logger);
  store = operations.store;
  const bus = options.bus ?? (await createMessageBus(env, logger));
  if (!options.bus) owned.unshift(() => bus.close());

  const db = createKysely(sql);
  await migrateToLatest(db, {
    ...apiKeyMigrations,
    ...idempotencyMigrations,
    ...checkpointMigrations,
    ...secretsMigrations,
    ...oauthStateMigrations,
    ...webhookSubscriptionMigrations,
    ...webhookDeliveryMigrations,
    ...audienceMigrations,
    ...campaignFanoutProgressMigrations,
    ...performanceChecksMigrations,
    ...spendPriceLookupMigrations,
    ...Object.assign({}, ...projections.map((p) => p.migrations)),
  }, sql.schema);
  // The token vault: the config files' secrets imported and encrypted at rest; connectors read their tokens from it.
  const vault = await startVault(db, env, options.files, logger);
  // Accounts connected through OAuth 2.0: the callback and the refresher put their tokens in the vault, connectors read them there.
  const platformConnections = new PlatformConnections({ db, store, vault, platforms: options.files.platforms, publicUrl: env.COMM_PUBLIC_URL ?? `http://localhost:${env.PORT}`, logger });
  const platformTokens = await platformConnections.accessTokens();
  // Provider secrets as the vault holds them: the files' values once imported, or newer ones put in the vault since.
  const notificationsConfig = await notificationsWithVaultSecrets(vault, options.files.notifications);

  const apiKeys = new ApiKeyStore(db);
  await ensureAdminKey(apiKeys, { configuredKey: env.COMM_ADMIN_API_KEY, dataDir: env.COMM_DATA_DIR, logger, print: options.print });

  // With several processes on one PostgreSQL database, one at a time follows each projection and reactor.
  const leases = followerLeasesFor(sql);
  const projectors = options.projector === false ? [] : projections.map((p) => new Projector(store, db, p, logger, { leases }));
  const positions = new ReadPositions(db, projectors);

  const templates = new TemplateCatalogue(db, options.files.templates);
  let router: ProviderRouter;
  try {
    router = new ProviderRouter(providersFromConfig(notificationsConfig), {
      ratePerSecond: ratesFromConfig(options.files.notifications),
      ...operations.providerHooks,
    });
  } catch (error) {
    throw new ConfigError(`Invalid ${env.COMM_CONFIG_DIR}/notifications.json: ${(error as Error).message}`);
  }
  const runWorker = options.worker !== false;
  const reactors = runWorker ? [new Reactor(store, db, notificationDispatch(bus), logger, { batchSize: 500, concurrency: 32, leases, leads: true })] : [];
  // Outbound webhooks: the fan-out queues deliveries and wakes the sender, which posts them.
  // Requests to URLs users gave (webhook receivers, media) reach public addresses only, plus COMM_OUTBOUND_ALLOWLIST.
  const outbound = { allowlist: env.COMM_OUTBOUND_ALLOWLIST };
  const webhookSender = runWorker ? new WebhookSender(db, logger, { allowlist: outbound.allowlist, keyring: vault.keyring }) : null;
  if (webhookSender) reactors.push(new Reactor(store, db, webhookFanout(db, logger, { onQueued: () => webhookSender.wake() }), logger, { leases }));
  // Integration events for the other modules (CRM, accounting, central server), on their own NATS stream. They follow
  // the log as the projections do and run with them: in a burst the worker's one thread is busy sending.
  const integrationEvents = options.projector !== false ? await startIntegrationEvents(env, { store, db, logger, leases }) : null;
  if (integrationEvents) {
    reactors.push(integrationEvents.reactor);
    owned.unshift(integrationEvents.close);
  }
  const unsubscribeSecret = await ensureUnsubscribeSecret({ configured: env.COMM_UNSUBSCRIBE_SECRET, dataDir: env.COMM_DATA_DIR });
  const unsubscribeHeaders = unsubscribeHeaderFactory(env.COMM_PUBLIC_URL ?? `http://localhost:${env.PORT}`, unsubscribeSecret);
  const consent = {
    policy: new ConsentPolicy(new ConsentsReader(db)),
    kindOf: async (n: NotificationFields) => messageKindOf(n, await templates.get(n.template_id, n.template_version).then((t) => t.kind, () => undefined)),
  };
  const renderer = new TemplateRenderer(templates, (n) => unsubscribeHeaders({ recipient: n.recipient, channel: n.channel }));
  const worker = runWorker ? new NotificationWorker(store, bus, router, renderer, logger, { consent, ackWaitMs: env.COMM_JOB_ACK_WAIT_MS }) : null;
  let connectors: PublicationConnectors;
  try {
    connectors = options.connectors ?? connectorsFromConfig(options.files.platforms, {
      breaker: operations.platformHooks,
      outbound,
      accessToken: platformTokens,
    });
  } catch (error) {
    throw new ConfigError(`Invalid ${env.COMM_CONFIG_DIR}/platforms.json: ${(error as Error).message}`);
  }
  // An attempt without a result is handed to a worker to recover a little after it can no longer post, and again at
  // that interval while it stays without one.
  const stuckAfterMs = attemptSettlesAfterMs(env.COMM_PUBLISH_ATTEMPT_DEADLINE_MS) + 30_000;
  const scheduler = runWorker ? new PublicationScheduler(db, bus, logger, { stuckAfterMs, ...options.scheduler }) : null;
  const publicationWorker = runWorker
    ? new PublicationWorker(store, bus, connectors, logger, {
        ackWaitMs: env.COMM_JOB_ACK_WAIT_MS,
        retryBackoffMs: env.COMM_PUBLISH_RETRY_BACKOFF_MS,
        attemptDeadlineMs: env.COMM_PUBLISH_ATTEMPT_DEADLINE_MS,
      })
    : null;
  const engagementPoller = runWorker ? new EngagementPoller(store, db, connectors, logger) : null;
  const accountOf = (platform: Platform) => connectors[platform]?.account ?? platform;
  const tokenRefresher = runWorker
    ? platformConnections.refresher(accountOf, leases, { intervalMs: env.COMM_TOKEN_REFRESH_INTERVAL_MS, refreshMarginMs: env.COMM_TOKEN_REFRESH_MARGIN_SECONDS * 1_000 })
    : null;
  // One slot booker for POST /publish and campaign posts: bookings in this process see each other at once.
  const booker = new PublicationSlotBooker(db, slotRulesFromConfig(options.files.platforms));
  // Campaigns: going live fans the channels out, canceling stops what is pending; the clock follows their dates.
  const fanout = campaignFanout({ store, db, templates, publisher: new PublicationPublisher(store, booker, logger), positions, logger });
  if (runWorker) reactors.push(new Reactor(store, db, fanout, logger, { batchSize: 10, leases }));
  const campaignClock = runWorker && env.COMM_CAMPAIGN_CLOCK_MS > 0 ? new CampaignClock(store, db, logger, env.COMM_CAMPAIGN_CLOCK_MS) : null;
  // The CRM's customers, consents and segments (crm.* on NATS) into the audience read model and the consent streams.
  let crm: App['crm'] = null;
  if (runWorker) {
    const crmBus = await openCrmBus(env, logger);
    owned.unshift(() => crmBus.close());
    crm = { bus: crmBus, consumer: new CrmConsumer(crmBus, store, new AudienceWriter(db), logger, { durable: env.COMM_CRM_DURABLE }) };
  }
  // Campaign results: spend per message for accounting, alerts on targets and budget, conversions from the central server.
  let campaignResults: CampaignResults | null = null;
  if (runWorker) {
    campaignResults = await CampaignResults.open({ env, store, db, logger, providers: router.providers(), notifications: options.files.notifications, leases });
    reactors.push(campaignResults.spendReactor);
    owned.unshift(() => campaignResults!.close());
  }
  const server = await createHttpServer({ logger, apiKeys, db, version, security: httpSecurityFromEnv(env), alerts: store });
  // The status route lists every reactor, also in processes that do not run them (one run here is found by name).
  const reactorDefinitions = [
    notificationDispatch(bus),
    webhookFanout(db, logger),
    // Listed for its name and filter only, as the others: the publishing one runs in the projector.
    ...(env.NATS_URL ? [integrationEventPublisher(() => Promise.resolve(), '', logger)] : []),
    fanout,
    ...campaignResultsReactors(store, db),
  ];
  const followers = followedCheckpoints(projections, projectors, reactorDefinitions, reactors);
  operations.expose(server, { sql, db, storeKind, bus, router, connectors, followers, heartbeat: runWorker, tokenExpiries: () => platformConnections.tokenExpiries() });
  if (options.api !== false) {
    registerApiKeyRoutes(server, apiKeys, db);
    registerCampaignCommandRoutes(server, store);
    registerCampaignQueryRoutes(server, db, positions);
    registerExperimentQueryRoutes(server, db, positions);
    registerNotificationCommandRoutes(server, store, templates);
    registerNotificationQueryRoutes(server, db, positions, store);
    registerPublicationQueryRoutes(server, db, positions);
    registerPublicationCommandRoutes(server, {
      store,
      booker,
      configuredPlatforms: new Set(Object.keys(connectors) as Platform[]),
      logger,
      outbound,
      bestTimes: new BestTimes(db),
    });
    registerBestTimesRoutes(server, db, positions);
    registerConsentCommandRoutes(server, store, unsubscribeSecret);
    registerConsentQueryRoutes(server, db, positions);
    registerTemplateCommandRoutes(server, store);
    registerTemplateQueryRoutes(server, templates, positions);
    registerWebhookRoutes(server, db, outbound, vault.keyring);
    registerEngagementQueryRoutes(server, db, positions);
    platformConnections.registerRoutes(server, positions, accountOf);
    registerCampaignLaunchRoutes(server, { store, audience: new AudienceReader(db), templates, configuredPlatforms: new Set(Object.keys(connectors) as Platform[]) });
    registerAudienceQueryRoutes(server, db, positions);
    registerPromotionFeedRoutes(server, db);
    registerAnalyticsQueryRoutes(server, db, positions);
    await registerPlatformWebhookRoutes(server, { store, db, secrets: facebookWebhookSecretsFromConfig(options.files.platforms), logger });
    await registerDeliveryWebhookRoutes(server, {
      store,
      db,
      secrets: inboundSecretsFromConfig(notificationsConfig),
      publicUrl: env.COMM_PUBLIC_URL ?? `http://localhost:${env.PORT}`,
      logger,
    });
  }
  await server.ready();

  let stopped = false;
  return {
    server,
    sql,
    db,
    store,
    bus,
    projectors,
    positions,
    templates,
    reactors,
    worker,
    publicationWorker,
    scheduler,
    vault,
    tokenRefresher,
    crm,
    campaignClock,
    campaignResults,
    async start(listen = null) {
      await Promise.all(projectors.map((p) => p.start()));
      await Promise.all(reactors.map((r) => r.start()));
      await worker?.start();
      await webhookSender?.start();
      await publicationWorker?.start();
      scheduler?.start();
      engagementPoller?.start();
      tokenRefresher?.start();
      campaignClock?.start();
      await crm?.consumer.start();
      await campaignResults?.start();
      operations.start();
      if (!listen) return null;
      return server.listen({ port: listen.port, host: listen.host });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Take no more work: HTTP requests first, then what produces jobs, then the workers, whose jobs under way
      // finish or, past the grace period, go back to the queue for another worker.
      await server.close();
      operations.stopHeartbeat();
      await Promise.all([engagementPoller?.stop(), tokenRefresher?.stop(), campaignClock?.stop(), crm?.consumer.stop(), campaignResults?.stop(), scheduler?.stop(), webhookSender?.stop(), ...reactors.map((r) => r.stop())]);
      const grace = { handBackAfterMs: env.COMM_SHUTDOWN_GRACE_MS };
      await Promise.all([publicationWorker?.stop(grace), worker?.stop(grace)]);
      router.shutdown();
      for (const connector of Object.values(connectors)) (connector as { shutdown?: () => void }).shutdown?.();
      // Checkpoints are written with each batch: stopping after the batch under way loses nothing.
      await Promise.all(projectors.map((p) => p.stop()));
      await leases.close();
      await operations.stop();
      for (const close of owned) await close().catch((error: unknown) => logger.warn({ err: error }, 'close failed'));
    },
  };
}
