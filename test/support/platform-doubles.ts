import type { PlatformsConfig } from '../../src/infrastructure/config/config-files.js';
import type { Platform } from '../../src/domain/publication-events.js';
import { startGoogleBusinessDouble, type GoogleBusinessDouble } from '../doubles/google-business-double.js';
import { startGraphApiDouble, type GraphApiDouble } from '../doubles/graph-api-double.js';
import { startLinkedInDouble, type LinkedInDouble } from '../doubles/linkedin-double.js';
import { startXApiDouble, type XApiDouble } from '../doubles/x-api-double.js';

/** The accounts every platform double accepts, and platforms.json pointing each platform at its double. */
export const pageId = '104857600';
export const igUserId = '17841400000000001';
export const graphToken = 'EAAG-test-page-token';
export const xCredentials = { consumerKey: 'x-key', consumerSecret: 'x-secret', token: 'x-token', tokenSecret: 'x-token-secret' };
export const google = { accountId: '1122334455', locationId: '9988776655', accessToken: 'ya29.test-token' };
export const linkedIn = { organizationId: '2414183', accessToken: 'AQV-test-token' };

export interface PlatformDoubles {
  graph: GraphApiDouble;
  x: XApiDouble;
  google: GoogleBusinessDouble;
  linkedin: LinkedInDouble;
  close(): Promise<void>;
}

/** One double per platform API (Graph for Facebook and Instagram), Instagram containers finished at once. */
export async function startPlatformDoubles(): Promise<PlatformDoubles> {
  const graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [graphToken], containerPollsBeforeFinished: 0 });
  const x = await startXApiDouble({ oauth1: xCredentials });
  const googleDouble = await startGoogleBusinessDouble(google);
  const linkedin = await startLinkedInDouble(linkedIn);
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

/** platforms.json with an entry per platform asked for (default all), each pointing at its double. */
export function platformsJson(
  d: Pick<PlatformDoubles, 'graph' | 'x' | 'google' | 'linkedin'>,
  wanted: Platform[] = allPlatforms,
  limits: Partial<Record<Platform, Record<string, unknown>>> = {},
): PlatformsConfig {
  const all = {
    facebook: { page_id: pageId, access_token: graphToken, api_version: 'v18.0', base_url: d.graph.url },
    instagram: { business_account_id: igUserId, access_token: graphToken, base_url: d.graph.url },
    twitter: { api_key: xCredentials.consumerKey, api_secret: xCredentials.consumerSecret, access_token: xCredentials.token, access_token_secret: xCredentials.tokenSecret, base_url: d.x.url },
    google_business: { account_id: google.accountId, location_id: google.locationId, access_token: google.accessToken, base_url: d.google.url },
    linkedin: { organization_id: linkedIn.organizationId, access_token: linkedIn.accessToken, base_url: d.linkedin.url },
  };
  return Object.fromEntries(wanted.map((platform) => [platform, { ...all[platform], ...limits[platform] }])) as PlatformsConfig;
}
