import type { Platform } from '../../src/domain/publication-events.js';
import type { PlatformsConfig } from '../../src/infrastructure/config/config-files.js';
import { startGoogleBusinessDouble } from '../doubles/google-business-double.js';
import { startGraphApiDouble } from '../doubles/graph-api-double.js';
import { startLinkedInDouble } from '../doubles/linkedin-double.js';
import { startXApiDouble } from '../doubles/x-api-double.js';
import { google, igUserId, linkedIn, pageId, type PlatformDoubles } from './platform-doubles.js';
import type { RunningApp } from './test-app.js';

/** The OAuth clients the doubles know, each secret recognisable in a dump. */
export const oauthClients = {
  meta: { appId: '1234567890123456', appSecret: 'meta-app-secret-5f1e9c' },
  x: { clientId: 'x-client-id-TXlDbGllbnQ', clientSecret: 'x-client-secret-8d2b41' },
  google: { clientId: '123-vieuxmoulin.apps.googleusercontent.com', clientSecret: 'GOCSPX-google-secret-77aa' },
  linkedin: { clientId: '78linkedinclient', clientSecret: 'linkedin-client-secret-3c9e' },
};

/** Where the platforms send the browser back: the service's public address (the test then calls its own server). */
export const publicUrl = 'https://communication.levieuxmoulin.fr';

/** Every platform double with its authorization server, and no token configured anywhere: accounts are connected. */
export async function startOAuthDoubles(): Promise<PlatformDoubles> {
  const graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [], containerPollsBeforeFinished: 0, oauth: oauthClients.meta });
  const x = await startXApiDouble({ oauth2: oauthClients.x });
  const googleDouble = await startGoogleBusinessDouble({ ...google, accessToken: 'not-a-configured-token', oauth: oauthClients.google });
  const linkedin = await startLinkedInDouble({ ...linkedIn, accessToken: 'not-a-configured-token', oauth: oauthClients.linkedin });
  return {
    graph,
    x,
    google: googleDouble,
    linkedin,
    close: async () => {
      await Promise.all([graph.close(), x.close(), googleDouble.close(), linkedin.close()]);
    },
  };
}

const allPlatforms: Platform[] = ['facebook', 'instagram', 'twitter', 'google_business', 'linkedin'];

/** platforms.json with OAuth clients and no tokens, every host pointing at the doubles (only the wanted ones are needed). */
export function oauthPlatformsJson(d: Partial<Pick<PlatformDoubles, 'graph' | 'x' | 'google' | 'linkedin'>>, wanted: Platform[] = allPlatforms): PlatformsConfig {
  const entries: Record<Platform, () => Record<string, unknown>> = {
    facebook: () => ({ page_id: pageId, app_id: oauthClients.meta.appId, app_secret: oauthClients.meta.appSecret, api_version: 'v18.0', base_url: d.graph!.url, oauth_base_url: d.graph!.url }),
    instagram: () => ({ business_account_id: igUserId, base_url: d.graph!.url }),
    twitter: () => ({ client_id: oauthClients.x.clientId, client_secret: oauthClients.x.clientSecret, base_url: d.x!.url, oauth_base_url: d.x!.url }),
    google_business: () => ({
      account_id: google.accountId,
      location_id: google.locationId,
      client_id: oauthClients.google.clientId,
      client_secret: oauthClients.google.clientSecret,
      base_url: d.google!.url,
      oauth_base_url: d.google!.url,
      oauth_token_base_url: d.google!.url,
    }),
    linkedin: () => ({
      organization_id: linkedIn.organizationId,
      client_id: oauthClients.linkedin.clientId,
      client_secret: oauthClients.linkedin.clientSecret,
      base_url: d.linkedin!.url,
      oauth_base_url: d.linkedin!.url,
      oauth_token_base_url: d.linkedin!.url,
    }),
  };
  return Object.fromEntries(wanted.map((platform) => [platform, entries[platform]()])) as PlatformsConfig;
}

export interface BrowserTrip {
  /** The answer of POST /authorize. */
  started: Awaited<ReturnType<RunningApp['call']>>;
  /** Where the consent screen sent the browser. */
  redirect: URL;
  /** The callback's answer. */
  callback: Awaited<ReturnType<RunningApp['call']>>;
}

/**
 * What an administrator's browser does: POST /authorize (with the admin key), open the authorization URL on the
 * platform (the double consents and answers 302), follow the redirect to the callback — on this test's server, since
 * COMM_PUBLIC_URL names the production address — without any API key.
 */
export async function connectThroughBrowser(t: RunningApp, platform: Platform, tamper: (redirect: URL) => void = () => {}): Promise<BrowserTrip> {
  const started = await t.call('POST', `/api/communication/connections/${platform}/authorize`);
  if (started.status !== 200) throw new Error(`authorize answered ${started.status}: ${JSON.stringify(started.body)}`);
  const consent = await fetch(started.body.authorization_url as string, { redirect: 'manual' });
  const location = consent.headers.get('location');
  if (consent.status !== 302 || !location) throw new Error(`the consent screen answered ${consent.status}: ${await consent.text()}`);
  const redirect = new URL(location);
  tamper(redirect);
  const callback = await t.call('GET', `${redirect.pathname}${redirect.search}`, { key: null });
  return { started, redirect, callback };
}
