import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { createPgliteClient } from '../../../src/infrastructure/database/pglite-client.js';
import { Keyring } from '../../../src/infrastructure/secrets/keyring.js';
import { SecretVault } from '../../../src/infrastructure/secrets/secret-vault.js';
import { secretsMigrations } from '../../../src/infrastructure/secrets/secrets-table.js';
import { WebhookSubscriptions, webhookSubscriptionMigrations } from '../../../src/webhooks/webhook-subscriptions.js';
import { freshKey } from '../../support/encryption-keys.js';

const run = promisify(execFile);

// PGlite in a data directory (created, then opened by the CLI and again here) takes seconds each time.

describe('npm run keys:rotate', () => {
  let dataDir: string;
  const oldKey = freshKey();
  const newKey = freshKey();
  const token = 'EAAB-rotate-cli-token-77e2';
  const webhookSecret = 'whsec_rotate-cli-secret-0042';
  const webhookId = randomUUID();

  async function database() {
    const client = await createPgliteClient({ dataDir: join(dataDir, 'pglite') });
    return { client, db: createKysely(client) };
  }

  async function rotate(args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, COMM_DATA_DIR: dataDir, COMM_ENCRYPTION_KEY: newKey.text, COMM_ENCRYPTION_PREVIOUS_KEYS: oldKey.text };
    delete env.DATABASE_URL;
    try {
      const { stdout, stderr } = await run(join('node_modules', '.bin', 'tsx'), ['src/infrastructure/secrets/rotate-cli.ts', ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'comm-rotate-'));
    const { client, db } = await database();
    await migrateToLatest(db, { ...secretsMigrations, ...webhookSubscriptionMigrations }, client.schema);
    const keyring = new Keyring([oldKey.key]);
    await new SecretVault(db, keyring).put('platforms/facebook/access_token', token);
    await new SecretVault(db, keyring).put('notifications/sms/auth_token', 'twilio-auth-token-9c8d');
    await new WebhookSubscriptions(db, keyring).create({ id: webhookId, url: 'https://crm.example.fr/h', event_types: ['engagement'], description: null, secret: webhookSecret });
    await client.close();
  }, 90_000);
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to open PGlite unless told the service is stopped', async () => {
    const { code, stderr } = await rotate();
    expect(code).toBe(1);
    expect(stderr).toMatch(/stop the service, then run npm run keys:rotate -- --service-stopped/);
  }, 60_000);

  it('re-encrypts everything under the new key and prints counts, never values', async () => {
    const { code, stdout } = await rotate(['--service-stopped']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Current key ${newKey.key.id}; previous keys: ${oldKey.key.id}`);
    expect(stdout).toMatch(/Vault: 2 re-encrypted, 0 already under the current key, 0 unreadable/);
    expect(stdout).toMatch(/Webhook secrets: 1 re-encrypted/);
    expect(stdout).toMatch(/previous keys are no longer needed/);
    for (const secret of [token, webhookSecret, 'twilio-auth-token-9c8d', newKey.text, oldKey.text]) expect(stdout).not.toContain(secret);

    const { client, db } = await database();
    try {
      const keyring = new Keyring([newKey.key]);
      expect(await new SecretVault(db, keyring).get('platforms/facebook/access_token')).toBe(token);
      expect((await new WebhookSubscriptions(db, keyring).target(webhookId))?.secret).toBe(webhookSecret);
    } finally {
      await client.close();
    }
  }, 90_000);
});
