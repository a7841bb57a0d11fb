import type { SecretReader } from '../../../infrastructure/secrets/secret-vault.js';
import type { OAuthClient } from './oauth-config.js';
import { readGraph, requestToken, type ClientCredentials, type TokenSet } from './token-endpoint.js';

/**
 * What an authorization code or a refresh gives: the token the connector will send, its lifetime, the refresh token
 * when there is one, and what was granted. Values travel from here to the vault only.
 */
export interface Grant {
  accessToken: string;
  expiresAt: Date | null;
  /** null: none was issued (Meta), or (on a refresh) the platform kept the one we have. */
  refreshToken: string | null;
  refreshExpiresAt: Date | null;
  scopes: string[];
}

/** The consent went through but the person who gave it cannot act for the configured account. */
export class AccountNotGranted extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'AccountNotGranted';
  }
}

interface PageAccount {
  id?: string;
  access_token?: string;
  instagram_business_account?: { id?: string };
}

/** Pages of /me/accounts read before giving up: a restaurant manages a handful of Pages. */
const maxAccountPages = 5;

export async function exchangeAuthorizationCode(client: OAuthClient, vault: SecretReader, code: string, codeVerifier: string | null, now: Date): Promise<Grant> {
  const credentials = await clientCredentials(client, vault);
  const form: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri };
  if (codeVerifier) form.code_verifier = codeVerifier;
  const tokens = await requestToken({ platform: client.platform, url: client.tokenUrl, credentials, form });
  if (client.provider.tokenStyle === 'facebook_long_lived') return metaPageGrant(client, credentials, tokens, now);
  return grantOf(tokens, client, now);
}

export async function refreshAccessToken(client: OAuthClient, vault: SecretReader, refreshToken: string, now: Date): Promise<Grant> {
  const credentials = await clientCredentials(client, vault);
  const tokens = await requestToken({ platform: client.platform, url: client.tokenUrl, credentials, form: { grant_type: 'refresh_token', refresh_token: refreshToken } });
  return grantOf(tokens, client, now);
}

/**
 * Facebook Login: the code gives a short-lived user token, exchanged for a long-lived one (~60 days), whose Page
 * tokens /me/accounts lists. The connectors post as the Page, so its token is the one kept; the long-lived user token
 * is dropped once used. Its lifetime is the connection's: Meta offers no refresh, a person must reconnect.
 */
async function metaPageGrant(client: OAuthClient, credentials: ClientCredentials, shortLived: TokenSet, now: Date): Promise<Grant> {
  const longLived = await requestToken({
    platform: client.platform,
    url: client.tokenUrl,
    credentials,
    form: { grant_type: 'fb_exchange_token', fb_exchange_token: shortLived.accessToken },
  });
  const pages = await listPages(client, longLived.accessToken);
  const target = client.target;
  const page =
    target && 'pageId' in target
      ? pages.find((p) => p.id === target.pageId)
      : pages.find((p) => target !== null && 'instagramAccountId' in target && p.instagram_business_account?.id === target.instagramAccountId);
  if (!page?.access_token) {
    const [field, what] = target && 'pageId' in target ? ['page_id', `the Page ${target.pageId}`] : ['business_account_id', `the Instagram account ${target && 'instagramAccountId' in target ? target.instagramAccountId : ''}`];
    throw new AccountNotGranted(`${client.platform}: the account that consented does not manage ${what} (or did not grant it): reconnect with a Page admin and select that Page`, field);
  }
  return {
    accessToken: page.access_token,
    expiresAt: longLived.expiresIn === null ? null : new Date(now.getTime() + longLived.expiresIn * 1000),
    refreshToken: null,
    refreshExpiresAt: null,
    scopes: shortLived.scopes ?? client.scopes,
  };
}

async function listPages(client: OAuthClient, userToken: string): Promise<PageAccount[]> {
  const pages: PageAccount[] = [];
  let after: string | undefined;
  for (let round = 0; round < maxAccountPages; round++) {
    const params: Record<string, string> = { fields: 'id,name,access_token,instagram_business_account', limit: '100', ...(after ? { after } : {}) };
    const answer = await readGraph<{ data?: PageAccount[]; paging?: { next?: string; cursors?: { after?: string } } }>(client.platform, `${client.apiRoot}/me/accounts`, userToken, params);
    pages.push(...(Array.isArray(answer.data) ? answer.data : []));
    after = answer.paging?.next ? answer.paging.cursors?.after : undefined;
    if (!after) break;
  }
  return pages;
}

function grantOf(tokens: TokenSet, client: OAuthClient, now: Date): Grant {
  const at = (seconds: number | null) => (seconds === null ? null : new Date(now.getTime() + seconds * 1000));
  return {
    accessToken: tokens.accessToken,
    expiresAt: at(tokens.expiresIn),
    refreshToken: tokens.refreshToken,
    refreshExpiresAt: at(tokens.refreshTokenExpiresIn),
    scopes: tokens.scopes ?? client.scopes,
  };
}

async function clientCredentials(client: OAuthClient, vault: SecretReader): Promise<ClientCredentials> {
  const secret = client.clientSecret ? ((await vault.get(client.clientSecret.name)) ?? client.clientSecret.configured ?? null) : null;
  if (client.provider.secretRequired && secret === null) throw new Error(`${client.platform}: no ${client.clientSecret?.name ?? 'client secret'} in the token vault nor in platforms.json`);
  return { clientId: client.clientId, clientSecret: secret, authentication: client.provider.clientAuthentication };
}
