import { RepeatingRound } from '../../infrastructure/time/repeating-round.js';
import { randomUUID } from 'node:crypto';
import { CommandHandler, type CommandContext } from '../../commands/command-handler.js';
import {
  connectionStreamId,
  expiryWarningMs,
  platformConnectionDecider,
  platformConnectionEvents,
  type PlatformConnectionCommand,
  type PlatformConnectionEvent,
  type PlatformConnectionState,
} from '../../domain/platform-connection.js';
import type { Platform } from '../../domain/publication-events.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import type { SecretVault } from '../../infrastructure/secrets/secret-vault.js';
import type { OAuthClient } from '../../platforms/social/oauth/oauth-config.js';
import { refreshAccessToken } from '../../platforms/social/oauth/oauth-grant.js';
import { refreshTokenName, storedGrants, storeGrant, type StoredGrantSummary } from '../../platforms/social/oauth/oauth-tokens.js';
import { grantIsDead, OAuthRefusal, OAuthUnavailable } from '../../platforms/social/oauth/token-endpoint.js';
import { singleProcessLeases, type FollowerLeases } from '../../projections/follower-lease.js';

export interface TokenRefresherOptions {
  /** Between two rounds. Default 5 minutes. */
  intervalMs?: number;
  /** An access token expiring within this is refreshed. Default 30 minutes (X's last 2 hours, Google's 1 hour). */
  refreshMarginMs?: number;
  /** A token that cannot be refreshed is announced this long before it expires. Default 7 days. */
  expiryWarningMs?: number;
  /** One refresher at a time among the processes sharing the database. Default: no coordination. */
  leases?: FollowerLeases;
  now?: () => Date;
}

export interface RefreshRound {
  refreshed: Platform[];
  /** The platform refused the refresh token for good: marked needs reconnect. */
  refused: Platform[];
  /** Not refreshed this round (network, 5xx, a refusal that does not kill the grant): tried again next round. */
  failed: Platform[];
  /** PlatformTokenExpiring raised. */
  warned: Platform[];
  /** A token that cannot be refreshed expired: marked needs reconnect. */
  expired: Platform[];
  /** Another process holds the refresher's lease: nothing done here. */
  skipped: boolean;
}

const leaseName = 'token-refresher';

/**
 * Keeps OAuth connections alive. Each round reads the vault's metadata (never the values of tokens that are not due),
 * refreshes the access tokens that expire within the margin, and raises an alert before a token that cannot be
 * refreshed (Facebook, Instagram) expires.
 *
 * A refresh the platform refuses with invalid_grant means the grant is gone (revoked, expired, replaced): the
 * connection is marked needs reconnect (an alert event, which becomes a webhook), once. Anything else — no answer, a
 * 5xx, a 429 — says nothing about the grant: the connection is left as it is and the next round tries again, so a
 * network blip never disconnects an account.
 */
export class TokenRefresher {
  private readonly connections: CommandHandler<PlatformConnectionCommand, PlatformConnectionEvent, PlatformConnectionState>;
  private readonly options: Required<Omit<TokenRefresherOptions, 'leases' | 'now'>> & { leases: FollowerLeases; now: () => Date };

  private readonly rounds: RepeatingRound;

  constructor(
    store: EventStore,
    private readonly vault: SecretVault,
    private readonly clients: Partial<Record<Platform, OAuthClient>>,
    private readonly accountOf: (platform: Platform) => string,
    private readonly logger: Logger,
    options: TokenRefresherOptions = {},
  ) {
    this.connections = new CommandHandler(store, platformConnectionDecider, platformConnectionEvents);
    this.options = {
      intervalMs: options.intervalMs ?? 5 * 60_000,
      refreshMarginMs: options.refreshMarginMs ?? 30 * 60_000,
      expiryWarningMs: options.expiryWarningMs ?? expiryWarningMs,
      leases: options.leases ?? singleProcessLeases,
      now: options.now ?? (() => new Date()),
    };
    this.rounds = new RepeatingRound(() => this.tick(), this.options.intervalMs, (err) => this.logger.error({ err }, 'token refresh round failed; trying again next round'));
  }

  start(): void {
    this.rounds.start();
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
  }

  /** One round over every connected platform. */
  async tick(): Promise<RefreshRound> {
    const round: RefreshRound = { refreshed: [], refused: [], failed: [], warned: [], expired: [], skipped: false };
    const platforms = (Object.keys(this.clients) as Platform[]).filter((platform) => this.clients[platform]);
    if (platforms.length === 0) return round;
    // Two processes refreshing X's rotating refresh token at once would each make the other's refused.
    const lease = await this.options.leases.tryAcquire(leaseName);
    if (!lease) return { ...round, skipped: true };
    try {
      const grants = storedGrants(await this.vault.list(), platforms);
      for (const grant of grants) {
        try {
          await this.keepAlive(grant, round);
        } catch (error) {
          round.failed.push(grant.platform);
          this.logger.error({ err: error, platform: grant.platform }, 'token refresh round failed for this platform; trying again next round');
        }
      }
    } finally {
      await lease.release();
    }
    return round;
  }


  private async keepAlive(grant: StoredGrantSummary, round: RefreshRound): Promise<void> {
    const { platform } = grant;
    const client = this.clients[platform]!;
    const now = this.options.now();
    const loaded = await this.connections.load(connectionStreamId(platform));
    const account = loaded.state.oauth?.account ?? this.accountOf(platform);
    const context: CommandContext = { correlationId: `token-refresh:${randomUUID()}`, causationId: leaseName, actor: leaseName, now };
    const report = async (command: PlatformConnectionCommand) =>
      (await this.connections.handle(connectionStreamId(platform), command, context, { loaded: { state: loaded.state, revision: loaded.revision } })).appended > 0;
    const left = (at: Date | null) => (at === null ? Infinity : at.getTime() - now.getTime());

    if (grant.refreshable && client.provider.tokenStyle === 'refreshable') {
      if (loaded.state.oauth?.refresh_refused) return;
      // LinkedIn's refresh tokens end a year after the consent, however often they are used.
      if (left(grant.refreshExpiresAt) <= 0) {
        if (await report({ type: 'ReportTokenExpired', platform, account, now: now.toISOString() })) round.expired.push(platform);
        return;
      }
      if (left(grant.refreshExpiresAt) <= this.options.expiryWarningMs) {
        if (await report({ type: 'ReportTokenExpiring', platform, account, expires_at: grant.refreshExpiresAt!.toISOString(), now: now.toISOString() })) round.warned.push(platform);
      }
      if (left(grant.accessExpiresAt) > this.options.refreshMarginMs) return;
      await this.refresh(client, account, report, round, now);
      return;
    }

    if (left(grant.accessExpiresAt) <= 0) {
      if (await report({ type: 'ReportTokenExpired', platform, account, now: now.toISOString() })) {
        round.expired.push(platform);
        this.logger.warn({ platform, account }, 'the access token expired and cannot be refreshed: the account needs reconnecting');
      }
    } else if (left(grant.accessExpiresAt) <= this.options.expiryWarningMs) {
      if (await report({ type: 'ReportTokenExpiring', platform, account, expires_at: grant.accessExpiresAt!.toISOString(), now: now.toISOString() })) {
        round.warned.push(platform);
        this.logger.warn({ platform, account, expires_at: grant.accessExpiresAt!.toISOString() }, 'the access token expires soon and cannot be refreshed: reconnect the account before then');
      }
    }
  }

  private async refresh(client: OAuthClient, account: string, report: (command: PlatformConnectionCommand) => Promise<boolean>, round: RefreshRound, now: Date): Promise<void> {
    const platform = client.platform;
    const refreshToken = await this.vault.get(refreshTokenName(platform));
    if (refreshToken === null) return;
    let grant;
    try {
      grant = await refreshAccessToken(client, this.vault, refreshToken, now);
    } catch (error) {
      if (error instanceof OAuthRefusal && grantIsDead(error)) {
        // Someone reconnected while we were asking: the refused token is not the current one.
        if ((await this.vault.get(refreshTokenName(platform))) !== refreshToken) return;
        if (await report({ type: 'ReportRefreshRefused', platform, account, message: error.message, now: now.toISOString() })) {
          this.logger.warn({ platform, account, code: error.code }, `the platform refused the refresh token: the account needs reconnecting (${error.message})`);
        }
        round.refused.push(platform);
        return;
      }
      if (error instanceof OAuthRefusal || error instanceof OAuthUnavailable) {
        round.failed.push(platform);
        const level = error instanceof OAuthRefusal ? 'error' : 'warn';
        this.logger[level]({ platform, account }, `token refresh failed, connection left as it is; trying again next round: ${error.message}`);
        return;
      }
      throw error;
    }
    await storeGrant(this.vault, platform, account, grant, 'refreshed', now);
    await report({ type: 'RecordTokenRefreshed', platform, account, scopes: grant.scopes, expires_at: grant.expiresAt?.toISOString() ?? null, now: now.toISOString() });
    round.refreshed.push(platform);
    this.logger.info({ platform, account, expires_at: grant.expiresAt?.toISOString() ?? null }, 'access token refreshed');
  }
}
