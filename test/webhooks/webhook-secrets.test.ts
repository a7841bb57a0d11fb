import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../src/infrastructure/database/sql-client.js';
import { SecretDecryptionError } from '../../src/infrastructure/secrets/keyring.js';
import { sealPlaintextWebhookSecrets, sealWebhookSecret, unsealWebhookSecret } from '../../src/webhooks/webhook-secrets.js';
import { WebhookSubscriptions, webhookSubscriptionMigrations } from '../../src/webhooks/webhook-subscriptions.js';
import { freshKeyring } from '../support/encryption-keys.js';
import { testDatabases } from '../support/databases.js';

const secret = 'whsec_outbound-secret-abcdef0123';

describe('webhook secrets at rest', () => {
  const keyring = freshKeyring();

  it('are sealed for their subscription, and open for it only', () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const sealed = sealWebhookSecret(secret, a, keyring);
    expect(sealed).not.toContain(secret);
    expect(unsealWebhookSecret(sealed, a, keyring)).toBe(secret);
    expect(() => unsealWebhookSecret(sealed, b, keyring)).toThrow(SecretDecryptionError);
    expect(() => unsealWebhookSecret(sealed, a, undefined)).toThrow(/no keyring/);
  });

  it('are read as they are when stored in clear before the vault', () => {
    expect(unsealWebhookSecret(secret, randomUUID(), keyring)).toBe(secret);
  });
});

describe.each(testDatabases())('webhook subscriptions with the vault on $name', (database) => {
  let sql: SqlClient;
  let db: SharedDatabase;
  const keyring = freshKeyring();

  beforeAll(async () => {
    sql = await database.create();
    db = createKysely(sql);
    await migrateToLatest(db, webhookSubscriptionMigrations, sql.schema);
  });
  afterAll(async () => {
    await db.destroy();
    await database.cleanup();
  });
  beforeEach(async () => {
    await db.deleteFrom('webhook_subscriptions').execute();
  });

  it('store the secret encrypted and give it back for signing, masked for showing', async () => {
    const subscriptions = new WebhookSubscriptions(db, keyring);
    const created = await subscriptions.create({ id: randomUUID(), url: 'https://crm.example.fr/h', event_types: ['engagement'], description: null, secret });
    expect(created.masked_secret).toBe('whsec_…0123');
    const stored = (await sql.query('SELECT secret FROM webhook_subscriptions')).rows[0]!.secret as string;
    expect(stored).toMatch(/^sealed:v1:/);
    expect(stored).not.toContain(secret);
    expect((await subscriptions.target(created.id))?.secret).toBe(secret);
    expect((await subscriptions.list())[0]?.masked_secret).toBe('whsec_…0123');
  });

  it('seal at start-up the secrets an earlier version stored in clear', async () => {
    const id = randomUUID();
    await new WebhookSubscriptions(db).create({ id, url: 'https://crm.example.fr/h', event_types: ['engagement'], description: null, secret });
    await new WebhookSubscriptions(db, keyring).create({ id: randomUUID(), url: 'https://crm.example.fr/h2', event_types: ['engagement'], description: null, secret: 'whsec_already-sealed-9876' });
    expect(await sealPlaintextWebhookSecrets(db, keyring)).toEqual({ resealed: 1, alreadyCurrent: 1, unreadable: 0 });
    const rows = (await sql.query('SELECT secret FROM webhook_subscriptions')).rows.map((row) => String(row.secret));
    expect(rows.every((text) => text.startsWith('sealed:v1:'))).toBe(true);
    expect((await new WebhookSubscriptions(db, keyring).target(id))?.secret).toBe(secret);
    expect(await sealPlaintextWebhookSecrets(db, keyring)).toEqual({ resealed: 0, alreadyCurrent: 2, unreadable: 0 });
  });
});
