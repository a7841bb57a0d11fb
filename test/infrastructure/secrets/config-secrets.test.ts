import { describe, expect, it } from 'vitest';
import type { ConfigFiles } from '../../../src/infrastructure/config/config-files.js';
import { configSecrets, isSecretFieldName } from '../../../src/infrastructure/secrets/config-secrets.js';

describe('secrets of the configuration files', () => {
  it('recognises credential fields and leaves their public halves', () => {
    for (const field of ['access_token', 'access_token_secret', 'refresh_token', 'api_key', 'api_secret', 'app_secret', 'client_secret', 'auth_token', 'callback_token', 'webhook_verify_token', 'private_key', 'vapid_private_key', 'password', 'webhook_password', 'application_secret', 'consumer_key']) {
      expect(isSecretFieldName(field), field).toBe(true);
    }
    for (const field of ['vapid_public_key', 'webhook_verification_key', 'application_key', 'account_sid', 'page_id', 'from_email', 'base_url', 'client_email', 'token_uri']) {
      expect(isSecretFieldName(field), field).toBe(false);
    }
  });

  it('names each secret after its place in the file, secondaries included', () => {
    const files = {
      platforms: {
        facebook: { page_id: '123', access_token: 'EAAB-fb', app_secret: 'fb-app-secret', webhook_verify_token: 'verify-me', api_version: 'v18.0' },
        twitter: { api_key: 'tw-key', api_secret: 'tw-secret', access_token: 'tw-token', access_token_secret: 'tw-token-secret' },
      },
      notifications: {
        email: { provider: 'sendgrid', api_key: 'SG.key', from_email: 'a@b.fr', from_name: 'x', secondary: { provider: 'smtp', host: 'smtp', port: 587, password: 'smtp-pass', from_email: 'a@b.fr', from_name: 'x' } },
        sms: { provider: 'ovh', application_key: 'ak', application_secret: 'as', consumer_key: 'ck', service_name: 's', from_number: '+33', callback_token: '' },
        push: { provider: 'fcm', project_id: 'p', client_email: 'c', private_key: '-----BEGIN PRIVATE KEY-----' },
      },
    } as unknown as ConfigFiles;
    expect(configSecrets(files).map(({ name, file }) => `${file} ${name}`)).toEqual([
      'platforms.json platforms/facebook/access_token',
      'platforms.json platforms/facebook/app_secret',
      'platforms.json platforms/facebook/webhook_verify_token',
      'platforms.json platforms/twitter/api_key',
      'platforms.json platforms/twitter/api_secret',
      'platforms.json platforms/twitter/access_token',
      'platforms.json platforms/twitter/access_token_secret',
      'notifications.json notifications/email/api_key',
      'notifications.json notifications/email/secondary/password',
      'notifications.json notifications/sms/application_secret',
      'notifications.json notifications/sms/consumer_key',
      'notifications.json notifications/push/private_key',
    ]);
    expect(configSecrets(files).find((s) => s.name === 'notifications/email/secondary/password')?.value).toBe('smtp-pass');
  });
});
