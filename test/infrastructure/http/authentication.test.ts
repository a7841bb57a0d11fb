import Fastify, { type FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, apiKeyMigrations, type ApiKeysTable } from '../../../src/infrastructure/auth/api-keys.js';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { installAuthentication, type AuthenticationFailure } from '../../../src/infrastructure/http/authentication.js';
import { installErrorHandlers } from '../../../src/infrastructure/http/error-handler.js';
import { pgliteDatabase } from '../../support/databases.js';

describe('API key authentication', () => {
  const database = pgliteDatabase();
  let db: Kysely<ApiKeysTable>;
  let keys: ApiKeyStore;
  let app: FastifyInstance;
  const failures: AuthenticationFailure[] = [];

  beforeAll(async () => {
    const sql = await database.create();
    db = createKysely(sql) as Kysely<ApiKeysTable>;
    await migrateToLatest(db, apiKeyMigrations, sql.schema);
    keys = new ApiKeyStore(db);
    app = Fastify();
    installErrorHandlers(app);
    installAuthentication(app, keys, { onFailure: (failure) => void failures.push(failure) });
    app.get('/closed', { config: { scope: 'campaigns:read' } }, async () => ({ ok: true }));
    app.get('/open', { config: { public: true } }, async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await db.destroy();
    await database.cleanup();
  });

  const get = (url: string, authorization?: string) => app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });

  it('says why a key is refused: missing, malformed, unknown, revoked, expired', async () => {
    const revoked = await keys.create('revoked', ['campaigns:read']);
    await keys.revoke(revoked.record.id);
    const expired = await keys.create('expired', ['campaigns:read'], new Date(Date.now() - 1_000));
    const cases = [
      [undefined, 'missing'],
      ['Basic abc', 'not a Bearer token'],
      ['Bearer cm_00000000_nope', 'unknown key'],
      [`Bearer ${revoked.key}`, 'revoked key'],
      [`Bearer ${expired.key}`, 'expired key'],
    ] as const;
    for (const [header, detail] of cases) {
      const response = await get('/closed', header);
      expect(response.statusCode, detail).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(response.json()).toMatchObject({ error: 'unauthorized', details: [{ path: 'headers.authorization', message: detail }] });
    }
    expect((await get('/closed', `Bearer ${revoked.key}`)).json().message).toBe(`The API key ${revoked.record.prefix} was revoked`);
    expect((await get('/closed', `Bearer ${expired.key}`)).json().message).toMatch(new RegExp(`^The API key ${expired.record.prefix} expired at `));
  });

  it('reports each refusal with the key prefix at most, never the key', async () => {
    failures.length = 0;
    const { key, record } = await keys.create('will be revoked', ['campaigns:read']);
    await keys.revoke(record.id);
    await get('/closed', `Bearer ${key}`);
    await get('/closed', 'Bearer not-a-cm-key-but-a-long-secret');
    await get('/closed');
    expect(failures.map((f) => [f.reason, f.keyPrefix])).toEqual([
      ['revoked', record.prefix],
      ['unknown', 'not-a-'],
      ['missing', null],
    ]);
    expect(failures[0]).toMatchObject({ method: 'GET', route: '/closed', address: '127.0.0.1' });
    expect(JSON.stringify(failures)).not.toContain(key);
  });

  it('names the missing scope in a 403, which is not an authentication failure', async () => {
    failures.length = 0;
    const { key } = await keys.create('other scope', ['analytics:read']);
    const response = await get('/closed', `Bearer ${key}`);
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toBe('This route needs the scope campaigns:read');
    expect(failures).toEqual([]);
  });

  it('lets public routes through without a key', async () => {
    expect((await get('/open')).statusCode).toBe(200);
  });
});
