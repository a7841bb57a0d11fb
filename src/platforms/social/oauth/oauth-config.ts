import { z } from 'zod';
import { publicationPlatforms, type Platform } from '../../../domain/publication-events.js';
import type { PlatformsConfig } from '../../../infrastructure/config/config-files.js';
import { platformSecretName } from '../../../infrastructure/secrets/config-secrets.js';
import { trimBaseUrl } from '../http.js';
import { oauthProviders, type OAuthProvider } from './oauth-providers.js';

/**
 * The OAuth 2.0 client of each platform, from its platforms.json entry. A platform takes part once its entry names the
 * client: app_id for Facebook (Instagram uses its own app_id or Facebook's), client_id for X, Google Business Profile
 * and LinkedIn. Optional fields: oauth_scopes (replaces the defaults), oauth_base_url (consent screen host),
 * oauth_token_base_url (token endpoint host; Facebook, Instagram and X default to the API's base_url),
 * oauth_redirect_uri (default COMM_PUBLIC_URL/api/communication/connections/{platform}/callback).
 *
 * The client secret is read from the token vault at each use (platforms/{platform}/client_secret or app_secret,
 * imported from the file at start-up), so it can leave the file once it is in the vault.
 */

export interface OAuthClient {
  platform: Platform;
  provider: OAuthProvider;
  clientId: string;
  /** Where the secret is: its vault name, and the file's value when the vault has none. null: a public client (X). */
  clientSecret: { name: string; configured: string | undefined } | null;
  scopes: string[];
  authorizeUrl: string;
  tokenUrl: string;
  /** The Graph API root with its version (Facebook, Instagram: /me/accounts); the API base URL elsewhere. */
  apiRoot: string;
  redirectUri: string;
  /** Facebook: the Page to take the token of; Instagram: the business account whose Page it is. */
  target: { pageId: string } | { instagramAccountId: string } | null;
}

/** Either a usable client, or why the platform cannot be connected (field names, never values). */
export type OAuthSetup = { client: OAuthClient; problems?: undefined } | { client?: undefined; problems: string[] };

const url = z.url({ protocol: /^https?$/ });
const oauthFieldsSchema = z.looseObject({
  app_id: z.string().min(1).optional(),
  app_secret: z.string().min(1).optional(),
  client_id: z.string().min(1).optional(),
  client_secret: z.string().min(1).optional(),
  api_version: z.string().regex(/^v\d+\.\d+$/, 'must look like v18.0').optional(),
  base_url: url.optional(),
  oauth_scopes: z.array(z.string().regex(/^[\x21-\x7e]+$/, 'a scope is visible ASCII without spaces')).min(1).max(50).optional(),
  oauth_base_url: url.optional(),
  oauth_token_base_url: url.optional(),
  oauth_redirect_uri: url.optional(),
});
type OAuthFields = z.infer<typeof oauthFieldsSchema>;

export const callbackPath = (platform: Platform) => `/api/communication/connections/${platform}/callback`;

/** Every platform of platforms.json whose entry names an OAuth client, usable or with what is missing. */
export function oauthClientsFromConfig(platforms: PlatformsConfig, publicUrl: string): Partial<Record<Platform, OAuthSetup>> {
  const setups: Partial<Record<Platform, OAuthSetup>> = {};
  const facebook = parseFields(platforms.facebook);
  for (const platform of publicationPlatforms) {
    const raw = platforms[platform] as Record<string, unknown> | undefined;
    if (!raw) continue;
    const parsed = oauthFieldsSchema.safeParse(raw);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((issue) => `${platform}.${issue.path.map(String).join('.')}: ${issue.message}`);
      if (namesClient(platform, raw, facebook)) setups[platform] = { problems: fields };
      continue;
    }
    if (!namesClient(platform, parsed.data, facebook)) continue;
    setups[platform] = setupOf(platform, parsed.data, raw, platform === 'instagram' ? facebook : undefined, publicUrl);
  }
  return setups;
}

function parseFields(entry: unknown): OAuthFields | undefined {
  const parsed = oauthFieldsSchema.safeParse(entry);
  return parsed.success ? parsed.data : undefined;
}

function namesClient(platform: Platform, entry: Record<string, unknown>, facebook: OAuthFields | undefined): boolean {
  const idField = oauthProviders[platform].clientIdField;
  if (typeof entry[idField] === 'string' && entry[idField] !== '') return true;
  // Instagram through Facebook Login: the Facebook app connects it unless it names its own.
  return platform === 'instagram' && facebook?.app_id !== undefined;
}

function setupOf(platform: Platform, fields: OAuthFields, raw: Record<string, unknown>, facebook: OAuthFields | undefined, publicUrl: string): OAuthSetup {
  const provider = oauthProviders[platform];
  const problems: string[] = [];
  // Instagram borrows the Facebook app (id and secret together) when it has none of its own.
  const ownApp = fields[provider.clientIdField] !== undefined;
  const app = ownApp ? fields : facebook ?? {};
  const appPlatform: Platform = ownApp ? platform : 'facebook';
  const clientId = app[provider.clientIdField] as string;
  const secretValue = app[provider.clientSecretField];
  if (provider.secretRequired && secretValue === undefined) {
    problems.push(`${appPlatform}.${provider.clientSecretField}: required to exchange the authorization code`);
  }
  if (platform === 'twitter') {
    const oauth1 = ['api_key', 'api_secret', 'access_token_secret'].filter((field) => raw[field] !== undefined);
    if (oauth1.length > 0) problems.push(`twitter.${oauth1.join(', ')}: X signs with these OAuth 1.0a keys; remove them to connect with OAuth 2.0`);
  }
  const target = targetOf(platform, raw);
  if (target === undefined) problems.push(`${platform}.${platform === 'facebook' ? 'page_id' : 'business_account_id'}: required to pick the account`);
  if (problems.length > 0) return { problems };

  const apiVersion = fields.api_version ?? facebook?.api_version ?? 'v18.0';
  const apiBase = trimBaseUrl(fields.base_url ?? (platform === 'instagram' ? facebook?.base_url : undefined) ?? provider.defaultApiBaseUrl);
  const authorizeBase = trimBaseUrl(fields.oauth_base_url ?? (platform === 'instagram' ? facebook?.oauth_base_url : undefined) ?? provider.defaultAuthorizeBaseUrl);
  const tokenBase = trimBaseUrl(fields.oauth_token_base_url ?? (provider.defaultTokenBaseUrl === 'api' ? apiBase : provider.defaultTokenBaseUrl));
  const graphRoot = apiBase.endsWith(`/${apiVersion}`) ? apiBase : `${apiBase}/${apiVersion}`;
  const versionless = (base: string) => (provider.tokenStyle === 'facebook_long_lived' && base.endsWith(`/${apiVersion}`) ? base.slice(0, -apiVersion.length - 1) : base);
  return {
    client: {
      platform,
      provider,
      clientId,
      clientSecret: secretValue === undefined && !provider.secretRequired ? null : { name: platformSecretName(appPlatform, provider.clientSecretField), configured: secretValue },
      scopes: fields.oauth_scopes ?? provider.defaultScopes,
      authorizeUrl: `${versionless(authorizeBase)}${provider.authorizePath(apiVersion)}`,
      tokenUrl: `${versionless(tokenBase)}${provider.tokenPath(apiVersion)}`,
      apiRoot: provider.tokenStyle === 'facebook_long_lived' ? graphRoot : apiBase,
      redirectUri: fields.oauth_redirect_uri ?? `${trimBaseUrl(publicUrl)}${callbackPath(platform)}`,
      target: target ?? null,
    },
  };
}

/** The account a Meta connection must grant; undefined when the entry lacks it. */
function targetOf(platform: Platform, raw: Record<string, unknown>): OAuthClient['target'] | undefined {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  if (platform === 'facebook') {
    const pageId = text(raw.page_id);
    return pageId ? { pageId } : undefined;
  }
  if (platform === 'instagram') {
    const instagramAccountId = text(raw.business_account_id);
    return instagramAccountId ? { instagramAccountId } : undefined;
  }
  return null;
}
