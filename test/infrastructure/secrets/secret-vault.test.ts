import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/infrastructure/config/env.js';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { Keyring, SecretDecryptionError } from '../../../src/infrastructure/secrets/keyring.js';
import { openVault } from '../../../src/infrastructure/secrets/open-vault.js';
import { SecretVault } from '../../../src/infrastructure/secrets/secret-vault.js';
import { secretsMigrations } from '../../../src/infrastructure/secrets/secrets-table.js';
import { freshKey } from '../../support/encryption-keys.js';
import { testDatabases } from '../../support/databases.js';

const logger = createLogger('silent');
const token = 'EAAB-facebook-page-token-5d1e9a';

describe.each(testDatabases())('secret vault on $name', (database) => {
  let sql: SqlClient;
  let db: SharedDatabase;
  const key = freshKey();
  let vault: SecretVault;

  beforeAll(async () => {
    sql = await database.create();
    db = createKysely(sql);
    await migrateToLatest(db, secretsMigrations, sql.schema);
  });
  afterAll(async () => {
    await db.destroy();
    await database.cleanup();
  });
  beforeEach(async () => {
    await db.deleteFrom('secrets').execute();
    vault = new SecretVault(db, new Keyring([key.key]));
  });

  it('puts, gets, lists (names and metadata, never values) and deletes', async () => {
    await vault.put('platforms/facebook/access_token', token, { metadata: { source: 'platforms.json' } });
    await vault.put('notifications/email/api_key', 'SG.sendgrid-key-0a1b');
    expect(await vault.get('platforms/facebook/access_token')).toBe(token);
    expect(await vault.get('platforms/unknown/access_token')).toBeNull();

    const listed = await vault.list();
    expect(listed.map((s) => s.name)).toEqual(['notifications/email/api_key', 'platforms/facebook/access_token']);
    expect(listed[1]).toMatchObject({ keyId: key.key.id, expiresAt: null, metadata: { source: 'platforms.json' } });
    expect(listed[1]!.updatedAt).toBeInstanceOf(Date);
    expect(JSON.stringify(listed)).not.toContain(token);

    await vault.put('platforms/facebook/access_token', 'EAAB-replaced');
    expect(await vault.get('platforms/facebook/access_token')).toBe('EAAB-replaced');
    expect(await vault.delete('platforms/facebook/access_token')).toBe(true);
    expect(await vault.delete('platforms/facebook/access_token')).toBe(false);
    expect(await vault.get('platforms/facebook/access_token')).toBeNull();
  });

  it('stores ciphertext only', async () => {
    await vault.put('platforms/facebook/access_token', token);
    const row = (await sql.query('SELECT name, key_id, encode(iv, $1) AS iv, encode(ciphertext, $1) AS ct, encode(auth_tag, $1) AS tag FROM secrets', ['hex'])).rows[0]!;
    expect(row.key_id).toBe(key.key.id);
    expect(String(row.iv)).toHaveLength(24);
    expect(String(row.tag)).toHaveLength(32);
    expect(JSON.stringify(row)).not.toContain(token);
    expect(JSON.stringify(row)).not.toContain(Buffer.from(token).toString('hex'));
  });

  it('answers null once a secret has expired', async () => {
    let now = new Date('2026-03-01T10:00:00Z');
    const clocked = new SecretVault(db, new Keyring([key.key]), () => now);
    await clocked.put('platforms/google_business/access_token', 'ya29.short-lived', { expiresAt: new Date('2026-03-01T11:00:00Z') });
    expect(await clocked.get('platforms/google_business/access_token')).toBe('ya29.short-lived');
    expect((await clocked.list())[0]!.expiresAt?.toISOString()).toBe('2026-03-01T11:00:00.000Z');
    now = new Date('2026-03-01T11:00:00Z');
    expect(await clocked.get('platforms/google_business/access_token')).toBeNull();
  });

  it('refuses a tampered ciphertext or tag', async () => {
    await vault.put('platforms/facebook/access_token', token);
    await sql.query("UPDATE secrets SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1)");
    await expect(vault.get('platforms/facebook/access_token')).rejects.toThrow(SecretDecryptionError);

    await vault.put('platforms/facebook/access_token', token);
    await sql.query("UPDATE secrets SET auth_tag = set_byte(auth_tag, 15, get_byte(auth_tag, 15) # 128)");
    await expect(vault.get('platforms/facebook/access_token')).rejects.toThrow(/altered/);
  });

  it('refuses rows swapped between names (the name is authenticated)', async () => {
    await vault.put('platforms/facebook/access_token', token);
    await vault.put('platforms/instagram/access_token', 'IGQV-instagram-token');
    await sql.query(
      `UPDATE secrets AS target SET iv = source.iv, ciphertext = source.ciphertext, auth_tag = source.auth_tag
       FROM secrets AS source WHERE target.name = 'platforms/instagram/access_token' AND source.name = 'platforms/facebook/access_token'`,
    );
    await expect(vault.get('platforms/instagram/access_token')).rejects.toThrow(/platforms\/instagram\/access_token.*altered/);
    expect(await vault.get('platforms/facebook/access_token')).toBe(token);
  });

  it('refuses to read with the wrong key, with an error naming the key it needs', async () => {
    await vault.put('platforms/facebook/access_token', token);
    const other = freshKey();
    const wrong = new SecretVault(db, new Keyring([other.key]));
    await expect(wrong.get('platforms/facebook/access_token')).rejects.toThrow(new RegExp(`encrypted with key ${key.key.id}, which is not loaded.*COMM_ENCRYPTION_PREVIOUS_KEYS`));
  });

  it('stops start-up when a stored secret needs a key that is not loaded', async () => {
    await vault.put('platforms/facebook/access_token', token);
    const other = freshKey();
    const env = { COMM_DATA_DIR: '/nonexistent', COMM_ENCRYPTION_KEY: other.text };
    await expect(openVault(db, env, logger)).rejects.toThrow(ConfigError);
    await expect(openVault(db, env, logger)).rejects.toThrow(new RegExp(`1 under key ${key.key.id}`));
    const newDataDir = await mkdtemp(join(tmpdir(), 'comm-vault-'));
    try {
      await expect(openVault(db, { COMM_DATA_DIR: newDataDir }, logger)).rejects.toThrow(/just generated its key: every process on one database needs the same one/);
    } finally {
      await rm(newDataDir, { recursive: true, force: true });
    }
    const opened = await openVault(db, { ...env, COMM_ENCRYPTION_PREVIOUS_KEYS: key.text }, logger);
    expect(await opened.get('platforms/facebook/access_token')).toBe(token);
  });

  it('refuses bad names, empty values and metadata that would reveal the value', async () => {
    for (const name of ['', '/leading', 'trailing/', 'a//b', 'spaces here', 'x'.repeat(300)]) {
      await expect(vault.put(name, token)).rejects.toThrow(/secret name/);
    }
    await expect(vault.put('a', '')).rejects.toThrow(/empty/);
    await expect(vault.put('a', token, { metadata: { note: `was ${token}` } })).rejects.toThrow(/metadata contains its value/);
  });
});
