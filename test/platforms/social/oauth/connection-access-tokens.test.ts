import { describe, expect, it } from 'vitest';
import type { PlatformsConfig } from '../../../../src/infrastructure/config/config-files.js';
import type { SecretSummary } from '../../../../src/infrastructure/secrets/secret-vault.js';
import { PlatformError } from '../../../../src/platforms/social/connector.js';
import { connectionAccessTokens } from '../../../../src/platforms/social/oauth/connection-access-tokens.js';

function vaultOf(entries: Record<string, string>, failures = 0) {
  const values = new Map(Object.entries(entries));
  let failing = failures;
  return {
    values,
    get: async (name: string) => {
      if (failing-- > 0) throw new Error('Connection terminated unexpectedly');
      return values.get(name) ?? null;
    },
    list: async (): Promise<SecretSummary[]> => [...values.keys()].map((name) => ({ name, keyId: 'k', updatedAt: new Date(), expiresAt: null, metadata: {} })),
  };
}

const platforms = { twitter: { client_id: 'x' }, linkedin: { organization_id: '1' } } as PlatformsConfig;

describe('the token providers of connectable platforms', () => {
  it('gives a connector that cannot post yet an authorization failure naming the route that connects it', async () => {
    const vault = vaultOf({});
    const tokens = await connectionAccessTokens(vault, platforms, new Set(['twitter']));
    const refused = await tokens('twitter')!().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PlatformError);
    expect(refused).toMatchObject({ errorClass: 'auth', message: expect.stringContaining('/api/communication/connections/twitter/authorize') });
    // Once connected, the next call has the token: the vault is read at every call.
    vault.values.set('platforms/twitter/access_token', 'x-at-connected');
    expect(await tokens('twitter')!()).toBe('x-at-connected');
    // A platform that cannot be connected keeps the vault's provider, or none.
    expect(tokens('linkedin')).toBeUndefined();
  });

  it('tries a failing vault read again before failing the call, and does not take a read failure for "not connected"', async () => {
    expect(await (await connectionAccessTokens(vaultOf({ 'platforms/twitter/access_token': 'x-at' }, 1), platforms, new Set(['twitter'])))('twitter')!()).toBe('x-at');
    const broken = await (await connectionAccessTokens(vaultOf({}, 10), platforms, new Set(['twitter'])))('twitter')!().catch((error: unknown) => error);
    expect(broken).not.toBeInstanceOf(PlatformError);
    expect((broken as Error).message).toBe('Connection terminated unexpectedly');
  });
});
