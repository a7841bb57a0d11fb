import { afterAll, describe, expect, it } from 'vitest';
import type { NotificationsConfig } from '../../../src/infrastructure/config/config-files.js';
import type { SecretSummary } from '../../../src/infrastructure/secrets/secret-vault.js';
import { notificationsWithVaultSecrets } from '../../../src/infrastructure/secrets/vault-config-secrets.js';
import { startMailjetDouble } from '../../doubles/mailjet-double.js';
import { pgliteDatabase, type TestDatabase } from '../../support/databases.js';
import { startTestApp } from '../../support/test-app.js';

function vaultOf(entries: Record<string, string>) {
  const values = new Map(Object.entries(entries));
  return {
    get: async (name: string) => values.get(name) ?? null,
    list: async (): Promise<SecretSummary[]> => [...values.keys()].map((name) => ({ name, keyId: 'k', updatedAt: new Date(), expiresAt: null, metadata: {} })),
  };
}

describe('notifications.json with its secrets read from the vault', () => {
  const file = {
    email: {
      provider: 'sendgrid',
      api_key: 'SG.old-key-in-the-file',
      from_email: 'restaurant@levieuxmoulin.fr',
      from_name: 'Le Vieux Moulin',
      secondary: { provider: 'mailjet', api_key: 'mj-public-key', from_email: 'restaurant@levieuxmoulin.fr', from_name: 'Le Vieux Moulin' },
    },
    push: { provider: 'webpush', vapid_public_key: 'BPublic', subject: 'mailto:contact@levieuxmoulin.fr' },
  } as unknown as NotificationsConfig;

  it('takes each secret from the vault: a rotated value wins, a value that left the file still works', async () => {
    const resolved = await notificationsWithVaultSecrets(
      vaultOf({
        'notifications/email/api_key': 'SG.rotated-in-the-vault',
        'notifications/email/secondary/api_secret': 'mj-secret-moved-out-of-the-file',
        'notifications/push/vapid_private_key': 'vapid-private-key-from-the-vault',
        'notifications/sms/auth_token': 'an-entry-the-file-no-longer-has',
        'platforms/facebook/access_token': 'not-a-notification-secret',
      }),
      file,
    );
    expect(resolved.email).toMatchObject({ provider: 'sendgrid', api_key: 'SG.rotated-in-the-vault', from_email: 'restaurant@levieuxmoulin.fr' });
    expect(resolved.email!.secondary).toMatchObject({ api_key: 'mj-public-key', api_secret: 'mj-secret-moved-out-of-the-file' });
    expect(resolved.push).toMatchObject({ vapid_public_key: 'BPublic', vapid_private_key: 'vapid-private-key-from-the-vault' });
    expect(resolved.sms).toBeUndefined();
    // The file's own object is left as it was.
    expect((file.email as unknown as { api_key: string }).api_key).toBe('SG.old-key-in-the-file');
  });
});

describe('a provider whose secrets moved from notifications.json to the vault', () => {
  const database = pgliteDatabase();
  afterAll(async () => {
    await database.cleanup();
  });

  it('still sends, and still checks its inbound webhook, after a restart with the secrets gone from the file', { timeout: 90_000 }, async () => {
    const mailjet = await startMailjetDouble();
    const sql = await database.create();
    // Both starts on one database, as a restart is.
    const sameDatabase: TestDatabase = { name: 'pglite', create: async () => sql, cleanup: async () => undefined };
    const entry = { provider: 'mailjet', api_key: mailjet.apiKey, from_email: 'restaurant@levieuxmoulin.fr', from_name: 'Le Vieux Moulin', base_url: mailjet.url, webhook_username: 'mailjet-hook' };
    const templates = { reservation_confirmation: { subject: 'Bienvenue {{first_name}}', body_html: '<p>Bonjour {{first_name}}</p>' } };
    try {
      const first = await startTestApp(sameDatabase, { worker: false, templates, notifications: { email: { ...entry, api_secret: mailjet.apiSecret, webhook_password: 'hook-password-123' } as never } });
      expect(await first.app.vault.get('notifications/email/api_secret')).toBe(mailjet.apiSecret);
      await first.close();

      const t = await startTestApp(sameDatabase, { templates, notifications: { email: entry as never } });
      try {
        const response = await t.call('POST', '/api/communication/notify', { body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'marie@example.fr', data: { first_name: 'Marie' } } });
        expect(response.status).toBe(202);
        const deadline = Date.now() + 15_000;
        while (mailjet.sent.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(mailjet.sent).toHaveLength(1);
        expect(mailjet.requests.every((request) => request.authorized)).toBe(true);

        const report = [{ event: 'sent', time: Math.floor(Date.now() / 1000), MessageID: 1, email: 'marie@example.fr', CustomID: 'x' }];
        const basic = (password: string) => `Basic ${Buffer.from(`mailjet-hook:${password}`).toString('base64')}`;
        const wrong = await t.call('POST', '/api/communication/webhooks/inbound/mailjet', { body: report, key: null, headers: { authorization: basic('wrong-password') } });
        expect(wrong.status).toBe(401);
        const right = await t.call('POST', '/api/communication/webhooks/inbound/mailjet', { body: report, key: null, headers: { authorization: basic('hook-password-123') } });
        expect(right.status).toBe(200);
      } finally {
        await t.close();
      }
    } finally {
      await mailjet.stop();
    }
  });
});
