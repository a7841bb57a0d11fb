import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFiles } from '../../../src/infrastructure/config/config-files.js';
import { quoteIdent } from '../../../src/infrastructure/database/postgres-client.js';
import { testDatabases } from '../../support/databases.js';
import { campaignBody, startTestApp, type RunningApp } from '../../support/test-app.js';

/** Every credential of the configuration below, each one recognisable. */
const tokens = {
  facebookToken: 'EAAG-dump-facebook-token-7a61',
  facebookAppSecret: 'dump-facebook-app-secret-2b93',
  facebookVerifyToken: 'dump-facebook-verify-token-c4d2',
  twitterApiKey: 'dump-twitter-api-key-15ab',
  twitterApiSecret: 'dump-twitter-api-secret-99f0',
  twitterToken: 'dump-twitter-access-token-6e2c',
  twitterTokenSecret: 'dump-twitter-token-secret-d813',
  linkedinToken: 'AQV-dump-linkedin-token-40ee',
  sendgridKey: 'SG.dump-sendgrid-api-key-8c1d',
  mailjetSecret: 'dump-mailjet-api-secret-3f77',
  twilioToken: 'dump-twilio-auth-token-a5b6',
  webhookSecret: 'whsec_dump-outbound-webhook-secret-0f9e',
};

const platforms = {
  facebook: { page_id: '104857392011', access_token: tokens.facebookToken, app_secret: tokens.facebookAppSecret, webhook_verify_token: tokens.facebookVerifyToken, api_version: 'v18.0' },
  twitter: { api_key: tokens.twitterApiKey, api_secret: tokens.twitterApiSecret, access_token: tokens.twitterToken, access_token_secret: tokens.twitterTokenSecret },
  linkedin: { organization_id: '2414183', access_token: tokens.linkedinToken },
} as ConfigFiles['platforms'];

const notifications = {
  email: {
    provider: 'sendgrid',
    api_key: tokens.sendgridKey,
    from_email: 'restaurant@levieuxmoulin.fr',
    from_name: 'Le Vieux Moulin',
    secondary: { provider: 'mailjet', api_key: 'dump-mailjet-api-key', api_secret: tokens.mailjetSecret, from_email: 'restaurant@levieuxmoulin.fr', from_name: 'Le Vieux Moulin' },
  },
  sms: { provider: 'twilio', account_sid: `AC${'0123456789abcdef'.repeat(2)}`, auth_token: tokens.twilioToken, from_number: '+33600000000' },
} as ConfigFiles['notifications'];

describe.each(testDatabases())('what the database holds after importing the configuration on $name', (database) => {
  let t: RunningApp;

  beforeAll(async () => {
    // No key configured: the one generated into the data dir, as with `npm start` and no setup.
    t = await startTestApp(database, { platforms, notifications, worker: false, env: { COMM_ENCRYPTION_KEY: '' } });
    expect((await t.call('POST', '/api/communication/webhooks', { body: { url: 'https://crm.example.fr/hooks', event_types: ['engagement'], secret: tokens.webhookSecret } })).status).toBe(201);
    expect((await t.call('POST', '/api/communication/campaigns', { body: campaignBody() })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await database.cleanup();
  });

  it('has every configured secret in the vault', async () => {
    const names = (await t.app.vault.list()).map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'platforms/facebook/access_token',
        'platforms/facebook/app_secret',
        'platforms/facebook/webhook_verify_token',
        'platforms/twitter/access_token_secret',
        'platforms/linkedin/access_token',
        'notifications/email/api_key',
        'notifications/email/secondary/api_secret',
        'notifications/sms/auth_token',
      ]),
    );
    expect(await t.app.vault.get('platforms/facebook/access_token')).toBe(tokens.facebookToken);
  });

  it('holds no token in clear in any table, the event store included', async () => {
    const { sql } = t.app;
    const tables = await sql.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
      [sql.schema],
    );
    const names = tables.rows.map((row) => row.table_name);
    expect(names).toEqual(expect.arrayContaining(['secrets', 'webhook_subscriptions', 'es_events']));
    let dump = '';
    for (const table of names) {
      const rows = await sql.query<{ row: string }>(`SELECT t::text AS row FROM ${quoteIdent(sql.schema)}.${quoteIdent(table)} AS t`);
      dump += rows.rows.map((row) => `${table}: ${row.row}\n`).join('');
    }
    expect(dump).toContain('secrets: (platforms/facebook/access_token');
    expect(dump).toMatch(/es_events: .*CampaignCreated/);
    for (const [name, value] of Object.entries(tokens)) {
      expect(dump, name).not.toContain(value);
      // bytea is dumped as hex: the plaintext must not be there in that form either.
      expect(dump, name).not.toContain(Buffer.from(value).toString('hex'));
    }
  });
});
