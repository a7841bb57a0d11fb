import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, apiKeyMigrations, hashApiKey, type ApiKeysTable } from '../../../src/infrastructure/auth/api-keys.js';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import { testDatabases } from '../../support/databases.js';

describe.each(testDatabases())('ApiKeyStore on $name', (database) => {
  let sql: SqlClient;
  let db: Kysely<ApiKeysTable>;
  beforeAll(async () => {
    sql = await database.create();
    db = createKysely(sql) as Kysely<ApiKeysTable>;
    await migrateToLatest(db, apiKeyMigrations, sql.schema);
  });
  afterAll(async () => {
    await db.destroy();
    await database.cleanup();
  });

  it('stores only the hash of a created key, and knows it by its prefix', async () => {
    const store = new ApiKeyStore(db);
    const { key, record } = await store.create('crm', ['campaigns:read']);
    expect(key).toMatch(new RegExp(`^cm_${record.prefix}_[\\w-]{32}$`));
    const row = await db.selectFrom('api_keys').selectAll().where('id', '=', record.id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(hashApiKey(key));
    expect(JSON.stringify(row)).not.toContain(key);
    expect(await store.check(key)).toEqual({ status: 'valid', record: { id: record.id, prefix: record.prefix, name: 'crm', scopes: ['campaigns:read'] } });
    expect(await store.check(`${key}x`)).toEqual({ status: 'unknown' });
  });

  it('tells a revoked key at once in the process that revoked it, and keeps the first revocation time', async () => {
    const store = new ApiKeyStore(db);
    const { key, record } = await store.create('to revoke', ['admin']);
    expect((await store.check(key)).status).toBe('valid');
    await store.revoke(record.id, new Date('2030-01-01T00:00:00Z'));
    expect(await store.check(key)).toEqual({ status: 'revoked', prefix: record.prefix });
    await store.revoke(record.id, new Date('2031-01-01T00:00:00Z'));
    expect((await store.find(record.prefix))?.revoked_at).toEqual(new Date('2030-01-01T00:00:00Z'));
  });

  it('refuses a key past its expiry, even from the cache', async () => {
    const store = new ApiKeyStore(db, 60_000);
    const expiresAt = new Date(Date.now() + 60_000);
    const { key, record } = await store.create('temporary', ['analytics:read'], expiresAt);
    expect((await store.check(key)).status).toBe('valid');
    expect(await store.check(key, new Date(expiresAt.getTime() + 1))).toEqual({ status: 'expired', prefix: record.prefix, expiredAt: expiresAt });
  });

  it('records the last use to the minute, not on every request', async () => {
    const store = new ApiKeyStore(db, 0);
    const { key, record } = await store.create('used', ['status:read']);
    expect((await store.find(record.id))?.last_used_at).toBeNull();
    const first = new Date(Date.now() + 1_000);
    await store.check(key, first);
    await store.check(key, new Date(first.getTime() + 30_000));
    expect((await store.find(record.id))?.last_used_at).toEqual(first);
    await store.check(key, new Date(first.getTime() + 61_000));
    expect((await store.find(record.id))?.last_used_at).toEqual(new Date(first.getTime() + 61_000));
  });

  it('lists keys without their hash', async () => {
    const store = new ApiKeyStore(db);
    const { record } = await store.create('listed', ['campaigns:read']);
    const listed = (await store.list()).find((k) => k.id === record.id);
    expect(listed).toMatchObject({ prefix: record.prefix, name: 'listed', scopes: ['campaigns:read'], revoked_at: null, expires_at: null });
    expect(listed).not.toHaveProperty('key_hash');
  });

  it('finds a key by id before a key whose prefix is that id', async () => {
    const store = new ApiKeyStore(db);
    await store.upsert('admin', 'cm_0000abcd_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'admin', ['admin']);
    expect((await store.find('admin'))?.id).toBe('admin');
    expect((await store.find('0000abcd'))?.id).toBe('admin');
    expect(await store.find('ffffffff')).toBeNull();
  });
});

describe('the api_keys expiry migration', () => {
  it('adds its columns to a table made by the first migration, keeping the keys', async () => {
    const [database] = testDatabases();
    const sql = await database!.create();
    const db = createKysely(sql) as Kysely<ApiKeysTable>;
    try {
      const { '0001_api_keys': first } = apiKeyMigrations;
      await migrateToLatest(db, { '0001_api_keys': first! }, sql.schema);
      await db
        .insertInto('api_keys')
        .values({ id: 'old', prefix: 'old', name: 'before', key_hash: hashApiKey('cm_00000000_before'), scopes: ['admin'], created_at: new Date() } as never)
        .execute();
      await migrateToLatest(db, apiKeyMigrations, sql.schema);
      expect((await new ApiKeyStore(db).check('cm_00000000_before')).status).toBe('valid');
    } finally {
      await db.destroy();
      await database!.cleanup();
    }
  });
});
