import type { Platform } from '../../../domain/publication-events.js';
import { platformSecretName } from '../../../infrastructure/secrets/config-secrets.js';
import type { SecretSummary, SecretVault } from '../../../infrastructure/secrets/secret-vault.js';
import type { Grant } from './oauth-grant.js';

/**
 * Where OAuth tokens live: the vault, under the names the connectors already read (platforms/{platform}/access_token)
 * and platforms/{platform}/refresh_token, with `source: oauth` in their metadata so that the configuration import
 * never overwrites them with an older token from platforms.json. The vault's expiry is the token's: an expired access
 * token reads as none.
 */

export const oauthSource = 'oauth';
export const accessTokenName = (platform: Platform) => platformSecretName(platform, 'access_token');
export const refreshTokenName = (platform: Platform) => platformSecretName(platform, 'refresh_token');

/**
 * Stores what a connection or a refresh gave. The refresh token goes first: X replaces it at every refresh, and losing
 * the new one (a crash between the two writes) would lose the grant, while losing the new access token only costs
 * another refresh. A refresh that brings no refresh token keeps the one we have; a new connection without one drops
 * the old grant's.
 */
export async function storeGrant(vault: SecretVault, platform: Platform, account: string, grant: Grant, how: 'connected' | 'refreshed', now: Date): Promise<void> {
  const metadata = { source: oauthSource, account, scopes: grant.scopes, obtained_at: now.toISOString() };
  if (grant.refreshToken) {
    await vault.put(refreshTokenName(platform), grant.refreshToken, { expiresAt: grant.refreshExpiresAt, metadata: { source: oauthSource, account, obtained_at: now.toISOString() } });
  } else if (how === 'connected') {
    await vault.delete(refreshTokenName(platform));
  }
  await vault.put(accessTokenName(platform), grant.accessToken, { expiresAt: grant.expiresAt, metadata });
}

/** What the vault says of a platform's OAuth tokens, without reading them. */
export interface StoredGrantSummary {
  platform: Platform;
  accessExpiresAt: Date | null;
  /** Whether a refresh token is stored (it may have expired: see refreshExpiresAt). */
  refreshable: boolean;
  refreshExpiresAt: Date | null;
}

/** The OAuth grants among the vault's secrets (access tokens stored by a connection or a refresh). */
export function storedGrants(summaries: readonly SecretSummary[], platforms: readonly Platform[]): StoredGrantSummary[] {
  const byName = new Map(summaries.map((summary) => [summary.name, summary]));
  const grants: StoredGrantSummary[] = [];
  for (const platform of platforms) {
    const access = byName.get(accessTokenName(platform));
    if (!access || access.metadata.source !== oauthSource) continue;
    const refresh = byName.get(refreshTokenName(platform));
    grants.push({ platform, accessExpiresAt: access.expiresAt, refreshable: refresh !== undefined, refreshExpiresAt: refresh?.expiresAt ?? null });
  }
  return grants;
}

/** When each platform's access token expires, as the vault holds it (null: no expiry known): for the status route. */
export function accessTokenExpiries(summaries: readonly SecretSummary[], platforms: readonly Platform[]): Map<string, Date | null> {
  const byName = new Map(summaries.map((summary) => [summary.name, summary]));
  const expiries = new Map<string, Date | null>();
  for (const platform of platforms) {
    const access = byName.get(accessTokenName(platform));
    if (access) expiries.set(platform, access.expiresAt);
  }
  return expiries;
}
