import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigFiles } from '../../../src/infrastructure/config/config-files.js';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { importConfigSecrets } from '../../../src/infrastructure/secrets/import-config-secrets.js';
import { SecretVault } from '../../../src/infrastructure/secrets/secret-vault.js';
import { secretsMigrations } from '../../../src/infrastructure/secrets/secrets-table.js';
import { freshKeyring } from '../../support/encryption-keys.js';
import { testDatabases } from '../../support/databases.js';

const logger = createLogger('silent');

function files(facebookToken: string): Pick<ConfigFiles, 'platforms' | 'notifications'> {
  return {
    platforms: { facebook: { page_id: '1234', access_token: facebookToken, app_secret: 'fb-app-secret-31', api_version: 'v18.0' } },
    notifications: { sms: { provider: 'twilio', account_sid: `AC${'0'.repeat(32)}`, auth_token: 'twilio-auth-token-77', from_number: '+33600000000' } },
  } as Pick<ConfigFiles, 'platforms' | 'notifications'>;
}

describe.each(testDatabases())('importing the configuration secrets on $name', (database) => {
  let sql: SqlClient;
  let db: SharedDatabase;
  let vault: SecretVault;

  beforeAll(async () => {
    sql = await database.create();
    db = createKysely(sql);
    await migrateToLatest(db, secretsMigrations, sql.schema);
    vault = new SecretVault(db, freshKeyring());
  });
  afterAll(async () => {
    await db.destroy();
    await database.cleanup();
  });
  beforeEach(async () => {
    await db.deleteFrom('secrets').execute();
  });

  it('puts every secret in the vault, marked with its file', async () => {
    expect(await importConfigSecrets(vault, files('EAAB-first'), logger)).toEqual({ added: 3, updated: 0, unchanged: 0, kept: [] });
    expect(await vault.get('platforms/facebook/access_token')).toBe('EAAB-first');
    expect(await vault.get('platforms/facebook/app_secret')).toBe('fb-app-secret-31');
    expect(await vault.get('notifications/sms/auth_token')).toBe('twilio-auth-token-77');
    expect((await vault.list()).map((s) => [s.name, s.metadata])).toEqual([
      ['notifications/sms/auth_token', { source: 'notifications.json' }],
      ['platforms/facebook/access_token', { source: 'platforms.json' }],
      ['platforms/facebook/app_secret', { source: 'platforms.json' }],
    ]);
  });

  it('writes nothing at the next start when the files did not change, and follows a change', async () => {
    await importConfigSecrets(vault, files('EAAB-first'), logger);
    const written = (await vault.list()).map((s) => s.updatedAt.getTime());
    expect(await importConfigSecrets(vault, files('EAAB-first'), logger)).toEqual({ added: 0, updated: 0, unchanged: 3, kept: [] });
    expect((await vault.list()).map((s) => s.updatedAt.getTime())).toEqual(written);

    expect(await importConfigSecrets(vault, files('EAAB-second'), logger)).toEqual({ added: 0, updated: 1, unchanged: 2, kept: [] });
    expect(await vault.get('platforms/facebook/access_token')).toBe('EAAB-second');
  });

  it('keeps a value something else stored since (a refreshed token) over the file', async () => {
    await importConfigSecrets(vault, files('EAAB-first'), logger);
    await vault.put('platforms/facebook/access_token', 'EAAB-refreshed', { metadata: { source: 'oauth_refresh' } });
    expect(await importConfigSecrets(vault, files('EAAB-first'), logger)).toEqual({ added: 0, updated: 0, unchanged: 2, kept: ['platforms/facebook/access_token'] });
    expect(await vault.get('platforms/facebook/access_token')).toBe('EAAB-refreshed');
  });

  it('keeps what was removed from the files: that is how secrets leave them', async () => {
    await importConfigSecrets(vault, files('EAAB-first'), logger);
    await importConfigSecrets(vault, { platforms: {}, notifications: {} }, logger);
    expect(await vault.get('platforms/facebook/access_token')).toBe('EAAB-first');
  });
});
