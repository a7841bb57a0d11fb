import {
  connectionStreamId,
  platformConnectionDecider,
  platformConnectionEvents,
  type PlatformConnectionCommand,
  type PlatformConnectionEvent,
  type PlatformConnectionState,
} from '../domain/platform-connection.js';
import type { Platform } from '../domain/publication-events.js';
import { formatPosition, type EventStore } from '../infrastructure/event-store/event-store.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import type { SecretVault } from '../infrastructure/secrets/secret-vault.js';
import type { OAuthClient, OAuthSetup } from '../platforms/social/oauth/oauth-config.js';
import { AccountNotGranted, exchangeAuthorizationCode, type Grant } from '../platforms/social/oauth/oauth-grant.js';
import { oauthProviders } from '../platforms/social/oauth/oauth-providers.js';
import type { OAuthStates } from '../platforms/social/oauth/oauth-states.js';
import { storeGrant } from '../platforms/social/oauth/oauth-tokens.js';
import { codeChallengeS256, generateCodeVerifier } from '../platforms/social/oauth/pkce.js';
import { OAuthRefusal, OAuthUnavailable } from '../platforms/social/oauth/token-endpoint.js';
import { CommandHandler, type CommandContext } from './command-handler.js';

export interface AuthorizationStart {
  authorizationUrl: string;
  stateExpiresAt: Date;
}

export interface CallbackQuery {
  code?: string | undefined;
  state?: string | undefined;
  error?: string | undefined;
  error_description?: string | undefined;
}

export interface ConnectedAccount {
  platform: Platform;
  account: string;
  scopes: string[];
  expiresAt: Date | null;
  refreshable: boolean;
  /** Where PlatformConnected was recorded (read-your-writes on GET /connections). */
  position: string | null;
}

export interface OAuthConnectionsDependencies {
  store: EventStore;
  vault: SecretVault;
  states: OAuthStates;
  setups: Partial<Record<Platform, OAuthSetup>>;
  /** The account each platform's connector posts as (page id, IG user id, organisation...). */
  accountOf: (platform: Platform) => string;
  logger: Logger;
}

/**
 * Connecting an account: start() makes the authorization URL (with a single-use state, and PKCE S256 where the
 * platform takes it); complete() checks the state the platform sends back, exchanges the code, puts the tokens in the
 * vault and records PlatformConnected. Nothing of a token reaches an answer, a log line or an event.
 */
export class OAuthConnections {
  private readonly connections: CommandHandler<PlatformConnectionCommand, PlatformConnectionEvent, PlatformConnectionState>;

  constructor(private readonly deps: OAuthConnectionsDependencies) {
    this.connections = new CommandHandler(deps.store, platformConnectionDecider, platformConnectionEvents);
  }

  /** The platform's client, or the 409 that says what platforms.json lacks. */
  clientOf(platform: Platform): OAuthClient {
    const setup = this.deps.setups[platform];
    if (setup?.client) return setup.client;
    const problems = setup?.problems ?? [`${platform}.${oauthProviders[platform].clientIdField}: required to connect through OAuth 2.0${platform === 'instagram' ? ' (or facebook.app_id)' : ''}`];
    throw new ApiError('oauth_not_configured', `${platform} cannot be connected: ${problems.join('; ')}`, problems.map((message) => ({ path: 'platforms.json', message })), 409);
  }

  async start(platform: Platform, requestedBy: string | null): Promise<AuthorizationStart> {
    const client = this.clientOf(platform);
    const codeVerifier = client.provider.pkce ? generateCodeVerifier() : null;
    const { state, expiresAt } = await this.deps.states.create({ platform, codeVerifier, redirectUri: client.redirectUri, requestedBy });
    const url = new URL(client.authorizeUrl);
    for (const [name, value] of Object.entries(client.provider.authorizeParameters)) url.searchParams.set(name, value);
    url.searchParams.set('client_id', client.clientId);
    url.searchParams.set('redirect_uri', client.redirectUri);
    url.searchParams.set('scope', client.scopes.join(' '));
    url.searchParams.set('state', state);
    if (codeVerifier) {
      url.searchParams.set('code_challenge', codeChallengeS256(codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
    }
    this.deps.logger.info({ platform, by: requestedBy, expires_at: expiresAt.toISOString() }, 'platform connection started');
    return { authorizationUrl: url.toString(), stateExpiresAt: expiresAt };
  }

  async complete(platform: Platform, query: CallbackQuery, context: CommandContext): Promise<ConnectedAccount> {
    const client = this.clientOf(platform);
    if (!query.state) throw new ApiError('validation_failed', 'The callback has no state', [{ path: 'query.state', message: 'required' }]);
    const pending = await this.deps.states.consume(query.state);
    if (!pending || pending.platform !== platform) {
      throw new ApiError('oauth_state_invalid', `Unknown, used or expired state: start again with POST /api/communication/connections/${platform}/authorize`, [
        { path: 'query.state', message: 'unknown, used or expired' },
      ], 400);
    }
    if (query.error) {
      const said = [query.error, query.error_description].filter(Boolean).join(': ').slice(0, 300);
      this.deps.logger.warn({ platform, error: query.error.slice(0, 100) }, 'platform connection refused on the consent screen');
      throw new ApiError('oauth_denied', `${platform} did not grant access (${said})`, [{ path: 'query.error', message: query.error.slice(0, 100) }], 400);
    }
    if (!query.code) throw new ApiError('validation_failed', 'The callback has neither code nor error', [{ path: 'query.code', message: 'required' }]);

    const now = context.now;
    const grant = await this.exchange({ ...client, redirectUri: pending.redirectUri }, query.code, pending.codeVerifier, now);
    const account = this.deps.accountOf(platform);
    await storeGrant(this.deps.vault, platform, account, grant, 'connected', now);
    const refreshable = grant.refreshToken !== null;
    const expiresAt = grant.expiresAt?.toISOString() ?? null;
    const result = await this.connections.handle(
      connectionStreamId(platform),
      { type: 'RecordConnected', platform, account, scopes: grant.scopes, expires_at: expiresAt, refreshable, now: now.toISOString() },
      { ...context, actor: pending.requestedBy ? `api-key:${pending.requestedBy}` : context.actor },
    );
    this.deps.logger.info({ platform, account, scopes: grant.scopes, expires_at: expiresAt, refreshable, by: pending.requestedBy }, 'platform connected');
    return { platform, account, scopes: grant.scopes, expiresAt: grant.expiresAt, refreshable, position: result.position ? formatPosition(result.position) : null };
  }

  private async exchange(client: OAuthClient, code: string, codeVerifier: string | null, now: Date): Promise<Grant> {
    const platform = client.platform;
    try {
      return await exchangeAuthorizationCode(client, this.deps.vault, code, codeVerifier, now);
    } catch (error) {
      if (error instanceof OAuthRefusal) {
        this.deps.logger.warn({ platform, code: error.code, status: error.status }, `authorization code refused: ${error.message}`);
        if (error.code === 'invalid_client' || error.code === 'unauthorized_client' || error.status === 401) {
          throw new ApiError('oauth_client_rejected', `${platform} refused our client credentials (${error.code}): check its client id and secret in platforms.json`, [
            { path: 'platforms.json', message: `${platform}: client refused` },
          ], 502);
        }
        throw new ApiError('oauth_code_rejected', `${platform} refused the authorization code (${error.code}${error.description ? `: ${error.description}` : ''}): start again`, [
          { path: 'query.code', message: error.code },
        ], 400);
      }
      if (error instanceof OAuthUnavailable) {
        this.deps.logger.warn({ platform }, error.message);
        throw new ApiError('platform_unavailable', `${error.message}: start again in a moment`, [], 502);
      }
      if (error instanceof AccountNotGranted) {
        throw new ApiError('oauth_account_not_granted', error.message, [{ path: `platforms.json ${platform}.${error.field}`, message: 'not granted by the account that consented' }], 422);
      }
      throw error;
    }
  }
}
