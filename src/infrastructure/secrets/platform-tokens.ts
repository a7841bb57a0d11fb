import type { Platform } from '../../domain/publication-events.js';
import type { PlatformsConfig } from '../config/config-files.js';
import { platformSecretName } from './config-secrets.js';
import type { SecretReader, SecretVault } from './secret-vault.js';

export type AccessTokenProvider = () => Promise<string>;

/**
 * The access-token provider each social connector gets: the vault's platforms/<platform>/access_token, read at every
 * call so a token replaced in the vault is used at once, else the access_token of platforms.json.
 *
 * No provider (the connector then uses its configuration alone) when there is no token anywhere, so that the
 * connector still refuses to start naming the missing field, and for X signing with OAuth 1.0a: a provider there would
 * switch it to Bearer authentication.
 */
export async function vaultAccessTokens(vault: Pick<SecretVault, 'get' | 'list'>, platforms: PlatformsConfig): Promise<(platform: Platform) => AccessTokenProvider | undefined> {
  const stored = new Set((await vault.list()).map((summary) => summary.name));
  return (platform) => {
    const entry = platforms[platform] as Record<string, unknown> | undefined;
    if (!entry || signsWithOAuth1(platform, entry)) return undefined;
    const name = platformSecretName(platform, 'access_token');
    const configured = typeof entry.access_token === 'string' && entry.access_token !== '' ? entry.access_token : undefined;
    if (!configured && !stored.has(name)) return undefined;
    return vaultTokenProvider(vault, name, configured);
  };
}

export function vaultTokenProvider(vault: SecretReader, name: string, configured: string | undefined): AccessTokenProvider {
  return async () => {
    const token = (await readRetrying(() => vault.get(name))) ?? configured;
    if (token === undefined) throw new Error(`no ${name} in the token vault`);
    return token;
  };
}

/**
 * The vault is read at every platform call. A read that fails (a database connection dropped under it: the pool's
 * next connection works) is tried again before it fails the call: the connectors take a provider that throws for a
 * missing token, and an auth failure holds the post back for 15 minutes and raises an alert.
 */
async function readRetrying<T>(read: () => Promise<T>, pausesMs = [100, 500]): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= pausesMs.length) throw error;
      await new Promise((resolve) => setTimeout(resolve, pausesMs[attempt]));
    }
  }
}

function signsWithOAuth1(platform: Platform, entry: Record<string, unknown>): boolean {
  return platform === 'twitter' && ['api_key', 'api_secret', 'access_token_secret'].some((field) => entry[field] !== undefined);
}
