import type { Platform } from '../../../domain/publication-events.js';
import { googleBusinessDefaultBaseUrl } from '../google-business.js';
import { graphDefaultBaseUrl } from '../graph-api.js';
import { linkedInDefaultBaseUrl } from '../linkedin.js';
import { xDefaultBaseUrl } from '../x.js';

/**
 * How each platform runs the OAuth 2.0 authorization code flow, as its documentation describes it. Hosts are the
 * vendors' defaults; platforms.json may move each one (oauth_base_url for the consent screen, oauth_token_base_url for
 * the token endpoint), which is how tests point them at local doubles.
 *
 * - Facebook and Instagram (Facebook Login): consent at www.facebook.com/{version}/dialog/oauth, code exchanged at
 *   graph.facebook.com/{version}/oauth/access_token, then fb_exchange_token for the long-lived (~60 days) user token and
 *   GET /me/accounts for the Page's token. No refresh token exists: an alert goes out before the expiry.
 * - X: PKCE is mandatory; offline.access brings a refresh token, which X replaces at each refresh. Confidential clients
 *   authenticate to the token endpoint with HTTP Basic.
 * - Google Business Profile: access_type=offline and prompt=consent so that a refresh token comes every time; PKCE is
 *   accepted and used.
 * - LinkedIn: refresh tokens for approved partners (programmatic refresh tokens), with their own fixed lifetime.
 */

export type TokenStyle = 'facebook_long_lived' | 'refreshable';
export type ClientAuthentication = 'basic' | 'body';

export interface OAuthProvider {
  platform: Platform;
  /** Where the browser is sent, from the consent host (default or oauth_base_url) and the API version. */
  authorizePath: (apiVersion: string) => string;
  defaultAuthorizeBaseUrl: string;
  tokenPath: (apiVersion: string) => string;
  /** Where the token endpoint lives when oauth_token_base_url is not set; `api` means the platform's API base_url. */
  defaultTokenBaseUrl: string | 'api';
  defaultApiBaseUrl: string;
  defaultScopes: string[];
  pkce: boolean;
  tokenStyle: TokenStyle;
  clientAuthentication: ClientAuthentication;
  /** Extra authorization request parameters. */
  authorizeParameters: Record<string, string>;
  /** The config fields of the client id and secret: app_id/app_secret for Meta apps, client_id/client_secret elsewhere. */
  clientIdField: 'app_id' | 'client_id';
  clientSecretField: 'app_secret' | 'client_secret';
  /** A secret is required unless the platform has public clients (X, which then needs PKCE alone). */
  secretRequired: boolean;
}

const facebookLogin = {
  authorizePath: (version: string) => `/${version}/dialog/oauth`,
  defaultAuthorizeBaseUrl: 'https://www.facebook.com',
  tokenPath: (version: string) => `/${version}/oauth/access_token`,
  defaultTokenBaseUrl: 'api',
  defaultApiBaseUrl: graphDefaultBaseUrl,
  pkce: false,
  tokenStyle: 'facebook_long_lived',
  clientAuthentication: 'body',
  authorizeParameters: { response_type: 'code' },
  clientIdField: 'app_id',
  clientSecretField: 'app_secret',
  secretRequired: true,
} as const;

export const oauthProviders: Record<Platform, OAuthProvider> = {
  facebook: {
    ...facebookLogin,
    platform: 'facebook',
    defaultScopes: ['pages_show_list', 'pages_read_engagement', 'pages_manage_posts', 'read_insights'],
  },
  instagram: {
    ...facebookLogin,
    platform: 'instagram',
    defaultScopes: ['instagram_basic', 'instagram_content_publish', 'instagram_manage_insights', 'pages_show_list', 'pages_read_engagement'],
  },
  twitter: {
    platform: 'twitter',
    authorizePath: () => '/i/oauth2/authorize',
    defaultAuthorizeBaseUrl: 'https://x.com',
    tokenPath: () => '/2/oauth2/token',
    defaultTokenBaseUrl: 'api',
    defaultApiBaseUrl: xDefaultBaseUrl,
    defaultScopes: ['tweet.read', 'tweet.write', 'users.read', 'offline.access', 'media.write'],
    pkce: true,
    tokenStyle: 'refreshable',
    clientAuthentication: 'basic',
    authorizeParameters: { response_type: 'code' },
    clientIdField: 'client_id',
    clientSecretField: 'client_secret',
    secretRequired: false,
  },
  google_business: {
    platform: 'google_business',
    authorizePath: () => '/o/oauth2/v2/auth',
    defaultAuthorizeBaseUrl: 'https://accounts.google.com',
    tokenPath: () => '/token',
    defaultTokenBaseUrl: 'https://oauth2.googleapis.com',
    defaultApiBaseUrl: googleBusinessDefaultBaseUrl,
    defaultScopes: ['https://www.googleapis.com/auth/business.manage'],
    pkce: true,
    tokenStyle: 'refreshable',
    clientAuthentication: 'body',
    authorizeParameters: { response_type: 'code', access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' },
    clientIdField: 'client_id',
    clientSecretField: 'client_secret',
    secretRequired: true,
  },
  linkedin: {
    platform: 'linkedin',
    authorizePath: () => '/oauth/v2/authorization',
    defaultAuthorizeBaseUrl: 'https://www.linkedin.com',
    tokenPath: () => '/oauth/v2/accessToken',
    defaultTokenBaseUrl: 'https://www.linkedin.com',
    defaultApiBaseUrl: linkedInDefaultBaseUrl,
    defaultScopes: ['w_organization_social', 'r_organization_social'],
    pkce: false,
    tokenStyle: 'refreshable',
    clientAuthentication: 'body',
    authorizeParameters: { response_type: 'code' },
    clientIdField: 'client_id',
    clientSecretField: 'client_secret',
    secretRequired: true,
  },
};
