import { describe, expect, it } from 'vitest';
import type { PlatformsConfig } from '../../../../src/infrastructure/config/config-files.js';
import { oauthClientsFromConfig } from '../../../../src/platforms/social/oauth/oauth-config.js';

const publicUrl = 'https://communication.levieuxmoulin.fr/';

describe('OAuth clients from platforms.json', () => {
  it("uses the vendors' hosts by default and the public URL for the callback", () => {
    const setups = oauthClientsFromConfig(
      {
        facebook: { page_id: '1', app_id: 'app', app_secret: 'secret', api_version: 'v21.0' },
        instagram: { business_account_id: '17841400000000001' },
        twitter: { client_id: 'x-client' },
        google_business: { account_id: '1', location_id: '2', client_id: 'g-client', client_secret: 'g-secret' },
        linkedin: { organization_id: '3', client_id: 'li-client', client_secret: 'li-secret' },
      } as PlatformsConfig,
      publicUrl,
    );
    expect(setups.facebook!.client).toMatchObject({
      authorizeUrl: 'https://www.facebook.com/v21.0/dialog/oauth',
      tokenUrl: 'https://graph.facebook.com/v21.0/oauth/access_token',
      apiRoot: 'https://graph.facebook.com/v21.0',
      redirectUri: 'https://communication.levieuxmoulin.fr/api/communication/connections/facebook/callback',
      clientSecret: { name: 'platforms/facebook/app_secret', configured: 'secret' },
      target: { pageId: '1' },
    });
    // Instagram connects through Facebook Login with the Facebook app, its secret read under Facebook's name.
    expect(setups.instagram!.client).toMatchObject({
      clientId: 'app',
      authorizeUrl: 'https://www.facebook.com/v21.0/dialog/oauth',
      clientSecret: { name: 'platforms/facebook/app_secret' },
      target: { instagramAccountId: '17841400000000001' },
    });
    expect(setups.twitter!.client).toMatchObject({ authorizeUrl: 'https://x.com/i/oauth2/authorize', tokenUrl: 'https://api.x.com/2/oauth2/token', clientSecret: null });
    expect(setups.twitter!.client!.scopes).toContain('offline.access');
    expect(setups.google_business!.client).toMatchObject({ authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth', tokenUrl: 'https://oauth2.googleapis.com/token' });
    expect(setups.linkedin!.client).toMatchObject({ authorizeUrl: 'https://www.linkedin.com/oauth/v2/authorization', tokenUrl: 'https://www.linkedin.com/oauth/v2/accessToken' });
  });

  it('moves every host with base_url, oauth_base_url and oauth_token_base_url, and takes the scopes and redirect given', () => {
    const { google_business: google } = oauthClientsFromConfig(
      {
        google_business: {
          account_id: '1',
          location_id: '2',
          client_id: 'g',
          client_secret: 's',
          oauth_base_url: 'http://127.0.0.1:4000/',
          oauth_token_base_url: 'http://127.0.0.1:4001',
          oauth_scopes: ['https://www.googleapis.com/auth/business.manage', 'openid'],
          oauth_redirect_uri: 'https://admin.levieuxmoulin.fr/oauth/google',
        },
      } as PlatformsConfig,
      publicUrl,
    );
    expect(google!.client).toMatchObject({
      authorizeUrl: 'http://127.0.0.1:4000/o/oauth2/v2/auth',
      tokenUrl: 'http://127.0.0.1:4001/token',
      scopes: ['https://www.googleapis.com/auth/business.manage', 'openid'],
      redirectUri: 'https://admin.levieuxmoulin.fr/oauth/google',
    });
  });

  it('leaves out platforms that name no client, and names what is missing for those that cannot connect', () => {
    const setups = oauthClientsFromConfig(
      {
        facebook: { page_id: '1', app_id: 'app' },
        twitter: { client_id: 'x', api_key: 'k', api_secret: 's', access_token: 't', access_token_secret: 'ts' },
        linkedin: { organization_id: '3', access_token: 'AQV' },
        google_business: { account_id: '1', location_id: '2', client_id: 'g', client_secret: 's', oauth_scopes: 'business.manage' },
      } as unknown as PlatformsConfig,
      publicUrl,
    );
    expect(setups.linkedin).toBeUndefined();
    expect(setups.facebook!.problems).toEqual(['facebook.app_secret: required to exchange the authorization code']);
    expect(setups.instagram).toBeUndefined();
    expect(setups.twitter!.problems![0]).toMatch(/^twitter\.api_key, api_secret, access_token_secret: X signs with these OAuth 1\.0a keys/);
    expect(setups.google_business!.problems![0]).toMatch(/^google_business\.oauth_scopes: /);
  });
});
