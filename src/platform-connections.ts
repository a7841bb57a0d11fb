import type { FastifyInstance } from 'fastify';
import { OAuthConnections } from './commands/oauth-connections.js';
import { registerOAuthRoutes } from './commands/oauth-routes.js';
import type { Platform } from './domain/publication-events.js';
import type { PlatformsConfig } from './infrastructure/config/config-files.js';
import type { SharedDatabase } from './infrastructure/database/kysely.js';
import type { EventStore } from './infrastructure/event-store/event-store.js';
import type { Logger } from './infrastructure/logging/logger.js';
import type { AccessTokenProvider } from './infrastructure/secrets/platform-tokens.js';
import type { SecretVault } from './infrastructure/secrets/secret-vault.js';
import { connectionAccessTokens } from './platforms/social/oauth/connection-access-tokens.js';
import { oauthClientsFromConfig, type OAuthClient, type OAuthSetup } from './platforms/social/oauth/oauth-config.js';
import { OAuthStates } from './platforms/social/oauth/oauth-states.js';
import { accessTokenExpiries } from './platforms/social/oauth/oauth-tokens.js';
import { registerConnectionQueryRoutes } from './projections/connections/connection-query-routes.js';
import type { FollowerLeases } from './projections/follower-lease.js';
import type { ReadPositions } from './projections/read-positions.js';
import { TokenRefresher, type TokenRefresherOptions } from './reactors/connections/token-refresher.js';

export { oauthStateMigrations } from './platforms/social/oauth/oauth-states.js';

export interface PlatformConnectionsParts {
  db: SharedDatabase;
  store: EventStore;
  vault: SecretVault;
  platforms: PlatformsConfig;
  /** COMM_PUBLIC_URL: the callback's address as the platforms redirect browsers to it. */
  publicUrl: string;
  logger: Logger;
}

/**
 * Platform accounts connected through OAuth 2.0, for one app: which platforms can be connected (platforms.json), the
 * connectors' token providers, the admin and callback routes, the connections query route, and the refresher that
 * keeps the tokens alive. app.ts asks it for each of those where it builds the matching part.
 */
export class PlatformConnections {
  readonly setups: Partial<Record<Platform, OAuthSetup>>;
  readonly clients: Partial<Record<Platform, OAuthClient>>;

  constructor(private readonly parts: PlatformConnectionsParts) {
    this.setups = oauthClientsFromConfig(parts.platforms, parts.publicUrl);
    this.clients = Object.fromEntries(Object.entries(this.setups).flatMap(([platform, setup]) => (setup.client ? [[platform, setup.client]] : [])));
    for (const [platform, setup] of Object.entries(this.setups)) {
      if (setup.problems) parts.logger.warn({ platform, problems: setup.problems }, 'platforms.json names an OAuth client that cannot connect yet');
    }
  }

  /** Each connector's token provider: the vault's, and for a connectable platform one that waits for the connection. */
  accessTokens(): Promise<(platform: Platform) => AccessTokenProvider | undefined> {
    return connectionAccessTokens(this.parts.vault, this.parts.platforms, new Set(Object.keys(this.clients) as Platform[]));
  }

  registerRoutes(server: FastifyInstance, positions: ReadPositions, accountOf: (platform: Platform) => string): void {
    const { db, store, vault, logger, platforms } = this.parts;
    const connections = new OAuthConnections({ store, vault, states: new OAuthStates(db, vault.keyring), setups: this.setups, accountOf, logger });
    registerOAuthRoutes(server, connections, db);
    const configured = new Set(Object.keys(platforms) as Platform[]);
    const configuredTokens = new Set(
      (Object.entries(platforms) as [Platform, Record<string, unknown>][]).filter(([, entry]) => typeof entry.access_token === 'string' && entry.access_token !== '').map(([platform]) => platform),
    );
    registerConnectionQueryRoutes(server, { db, positions, configured, configuredTokens, setups: this.setups, secrets: () => vault.list() });
  }

  refresher(accountOf: (platform: Platform) => string, leases: FollowerLeases, options: TokenRefresherOptions = {}): TokenRefresher {
    return new TokenRefresher(this.parts.store, this.parts.vault, this.clients, accountOf, this.parts.logger, { leases, ...options });
  }

  /** When each platform's access token expires, from the vault (read at each status request, so every process agrees). */
  async tokenExpiries(): Promise<Map<string, Date | null>> {
    return accessTokenExpiries(await this.parts.vault.list(), Object.keys(this.parts.platforms) as Platform[]);
  }
}
