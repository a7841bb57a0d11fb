import type { Platform } from '../../../domain/publication-events.js';
import type { PlatformsConfig } from '../../../infrastructure/config/config-files.js';
import { vaultAccessTokens, vaultTokenProvider, type AccessTokenProvider } from '../../../infrastructure/secrets/platform-tokens.js';
import type { SecretVault } from '../../../infrastructure/secrets/secret-vault.js';
import { PlatformError } from '../connector.js';
import { accessTokenName } from './oauth-tokens.js';

/**
 * The token provider of each connector. A platform that can be connected through OAuth gets one even before it is
 * connected: the connector then starts, and a post waits as an authorization failure ("not connected": the alert
 * names the route to connect) until someone connects the account, instead of the service refusing to start. Every
 * call reads the vault, so a token stored by a connection or a refresh is used at once, by every process.
 */
export async function connectionAccessTokens(
  vault: Pick<SecretVault, 'get' | 'list'>,
  platforms: PlatformsConfig,
  connectable: ReadonlySet<Platform>,
): Promise<(platform: Platform) => AccessTokenProvider | undefined> {
  const fromVault = await vaultAccessTokens(vault, platforms);
  return (platform) => {
    if (!connectable.has(platform)) return fromVault(platform);
    const entry = platforms[platform] as { access_token?: unknown } | undefined;
    const configured = typeof entry?.access_token === 'string' && entry.access_token !== '' ? entry.access_token : undefined;
    return async () => {
      // The vault's own provider, for its retry of a read that fails; a read that finds nothing is told apart here.
      let found = true;
      const reader = {
        get: async (name: string) => {
          const token = (await vault.get(name)) ?? configured ?? null;
          found = token !== null;
          return token;
        },
      };
      try {
        return await vaultTokenProvider(reader, accessTokenName(platform), undefined)();
      } catch (error) {
        if (found) throw error;
        throw new PlatformError(platform, 'auth', `${platform}: not connected, or its token expired: connect it with POST /api/communication/connections/${platform}/authorize`);
      }
    };
  };
}
