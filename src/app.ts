import type { FastifyInstance } from 'fastify';
import { registerCampaignCommandRoutes } from './commands/campaign-routes.js';
import { registerNotificationCommandRoutes, type TemplateDirectory } from './commands/notification-routes.js';
import { ensureAdminKey } from './infrastructure/auth/admin-key.js';
import { ApiKeyStore, apiKeyMigrations } from './infrastructure/auth/api-keys.js';
import { createMessageBus } from './infrastructure/bus/create-bus.js';
import type { NamedBus } from './infrastructure/bus/create-bus.js';
import type { ConfigFiles } from './infrastructure/config/config-files.js';
import type { Env } from './infrastructure/config/env.js';
import { createKysely, migrateToLatest, type SharedDatabase } from './infrastructure/database/kysely.js';
import type { SqlClient } from './infrastructure/database/sql-client.js';
import type { EventStore } from './infrastructure/event-store/event-store.js';
import { idempotencyMigrations } from './infrastructure/http/idempotency.js';
import { createHttpServer } from './infrastructure/http/server.js';
import { registerStatusRoutes } from './infrastructure/http/status-routes.js';
import type { Logger } from './infrastructure/logging/logger.js';
import { openEventStore, openSqlClient, type EventStoreKind } from './infrastructure/storage.js';
import { registerCampaignQueryRoutes } from './projections/campaigns/campaign-query-routes.js';
import { registerNotificationQueryRoutes } from './projections/notifications/notification-query-routes.js';
import { checkpointMigrations } from './projections/checkpoints.js';
import { Projector } from './projections/projector.js';
import { ReadPositions } from './projections/read-positions.js';
import { projections } from './projections/registry.js';
import { statusComponents } from './status-components.js';
import { version } from './version.js';

export interface AppOptions {
  env: Env;
  logger: Logger;
  files: ConfigFiles;
  /** Run the HTTP API (default true). */
  api?: boolean;
  /** Run the projectors in this process (default true). */
  projector?: boolean;
  /** Inject storage (tests); the app then leaves closing it to the caller. */
  sql?: SqlClient;
  store?: EventStore;
  bus?: NamedBus;
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
  const bus = options.bus ?? (await createMessageBus(env, logger));
  if (!options.bus) owned.unshift(() => bus.close());

  const db = createKysely(sql);
  await migrateToLatest(db, {
    ...apiKeyMigrations,
    ...idempotencyMigrations,
    ...checkpointMigrations,
    ...Object.assign({}, ...projections.map((p) => p.migrations)),
  }, sql.schema);

  const apiKeys = new ApiKeyStore(db);
  await ensureAdminKey(apiKeys, { configuredKey: env.COMM_ADMIN_API_KEY, dataDir: env.COMM_DATA_DIR, logger, print: options.print });

  const projectors = options.projector === false ? [] : projections.map((p) => new Projector(store, db, p, logger));
  const positions = new ReadPositions(db, projectors);

  const templates: TemplateDirectory = { has: async (id) => Object.hasOwn(options.files.templates, id) };
  const server = await createHttpServer({ logger, apiKeys, db, version });
  registerStatusRoutes(server, () => statusComponents({ sql, db, store, storeKind, bus, projectors }), version);
  if (options.api !== false) {
    registerCampaignCommandRoutes(server, store);
    registerCampaignQueryRoutes(server, db, positions);
    registerNotificationCommandRoutes(server, store, templates);
    registerNotificationQueryRoutes(server, db, positions);
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
    async start(listen = null) {
      await Promise.all(projectors.map((p) => p.start()));
      if (!listen) return null;
      return server.listen({ port: listen.port, host: listen.host });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      await Promise.all(projectors.map((p) => p.stop()));
      for (const close of owned) await close().catch((error: unknown) => logger.warn({ err: error }, 'close failed'));
    },
  };
}
