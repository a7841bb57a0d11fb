import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlatformsConfig } from '../../../src/infrastructure/config/config-files.js';
import { vaultAccessTokens } from '../../../src/infrastructure/secrets/platform-tokens.js';
import type { SecretSummary } from '../../../src/infrastructure/secrets/secret-vault.js';
import { connectorsFromConfig } from '../../../src/platforms/social/connectors-from-config.js';
import { startGraphApiDouble, type GraphApiDouble } from '../../doubles/graph-api-double.js';

/** The two vault calls the providers make, over a map. */
function vaultOf(entries: Record<string, string>) {
  const values = new Map(Object.entries(entries));
  return {
    values,
    get: async (name: string) => values.get(name) ?? null,
    list: async (): Promise<SecretSummary[]> => [...values.keys()].map((name) => ({ name, keyId: 'k', updatedAt: new Date(), expiresAt: null, metadata: {} })),
  };
}

const platforms = {
  facebook: { page_id: '104857392011', access_token: 'EAAG-from-config', api_version: 'v18.0' },
  instagram: { business_account_id: '17841400000000001' },
  linkedin: { organization_id: '2414183' },
  twitter: { api_key: 'k', api_secret: 's', access_token: 't', access_token_secret: 'ts' },
} as PlatformsConfig;

describe('platform tokens from the vault', () => {
  it('reads the vault at every call and falls back to the config token', async () => {
    const vault = vaultOf({ 'platforms/facebook/access_token': 'EAAG-from-vault' });
    const provider = (await vaultAccessTokens(vault, platforms))('facebook')!;
    expect(await provider()).toBe('EAAG-from-vault');
    vault.values.set('platforms/facebook/access_token', 'EAAG-replaced-in-vault');
    expect(await provider()).toBe('EAAG-replaced-in-vault');
    vault.values.delete('platforms/facebook/access_token');
    expect(await provider()).toBe('EAAG-from-config');
  });

  it('serves a token that lives in the vault only, and gives no provider when there is none anywhere', async () => {
    const tokens = await vaultAccessTokens(vaultOf({ 'platforms/instagram/access_token': 'IGQV-vault-only' }), platforms);
    expect(await tokens('instagram')!()).toBe('IGQV-vault-only');
    // The connector then refuses to start, naming access_token.
    expect(tokens('linkedin')).toBeUndefined();
    expect(tokens('google_business')).toBeUndefined();
  });

  it('leaves X alone when it signs with OAuth 1.0a (a provider would switch it to Bearer)', async () => {
    const tokens = await vaultAccessTokens(vaultOf({ 'platforms/twitter/access_token': 'bearer' }), platforms);
    expect(tokens('twitter')).toBeUndefined();
    const bearerOnly = await vaultAccessTokens(vaultOf({ 'platforms/twitter/access_token': 'bearer' }), { twitter: { access_token: 'old-bearer' } } as PlatformsConfig);
    expect(await bearerOnly('twitter')!()).toBe('bearer');
  });

  it('fails a call clearly when the token left the vault and the config has none', async () => {
    const vault = vaultOf({ 'platforms/instagram/access_token': 'IGQV-vault-only' });
    const provider = (await vaultAccessTokens(vault, platforms))('instagram')!;
    vault.values.clear();
    await expect(provider()).rejects.toThrow('no platforms/instagram/access_token in the token vault');
  });

  it('reads the vault again when a read fails (a dropped database connection), before failing the call', async () => {
    const vault = vaultOf({ 'platforms/facebook/access_token': 'EAAG-from-vault' });
    let failures = 1;
    const flaky = { ...vault, get: async (name: string) => (failures-- > 0 ? Promise.reject(new Error('Connection terminated unexpectedly')) : vault.get(name)) };
    const provider = (await vaultAccessTokens(flaky, platforms))('facebook')!;
    expect(await provider()).toBe('EAAG-from-vault');

    failures = 10;
    await expect(provider()).rejects.toThrow('Connection terminated unexpectedly');
    expect(failures).toBe(7);
  });
});

describe('connectors built from platforms.json with the vault', () => {
  let graph: GraphApiDouble;
  beforeEach(async () => {
    graph = await startGraphApiDouble({ pageId: '104857392011', igUserId: '17841400000000001', accessTokens: ['EAAG-from-vault'] });
  });
  afterEach(async () => {
    await graph.close();
  });

  it('call the platform with the token of the vault', async () => {
    const config = { facebook: { page_id: '104857392011', access_token: 'EAAG-stale-config-token', api_version: 'v18.0', base_url: graph.url } } as PlatformsConfig;
    const connectors = connectorsFromConfig(config, { accessToken: await vaultAccessTokens(vaultOf({ 'platforms/facebook/access_token': 'EAAG-from-vault' }), config) });
    try {
      await connectors.facebook!.check();
      expect(graph.requests.at(-1)).toMatchObject({ verdict: 'ok', tokenVia: 'bearer' });
    } finally {
      connectors.facebook!.shutdown();
    }
  });
});
