import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../../../src/infrastructure/database/sql-client.js';
import { OAuthStates, oauthStateMigrations, stateLifetimeMs } from '../../../../src/platforms/social/oauth/oauth-states.js';
import { testDatabases } from '../../../support/databases.js';
import { freshKeyring } from '../../../support/encryption-keys.js';

describe.each(testDatabases())('OAuth states on $name', (database) => {
  let sql: SqlClient;
  let db: SharedDatabase;
  let clock = new Date('2026-03-01T10:00:00Z');
  const keyring = freshKeyring();
  const pending = { platform: 'twitter' as const, codeVerifier: 'verifier-that-must-stay-secret-0123456789abc', redirectUri: 'https://c.example/cb', requestedBy: 'a1b2c3d4' };

  beforeAll(async () => {
    sql = await database.create();
    db = createKysely(sql);
    await migrateToLatest(db, oauthStateMigrations, sql.schema);
  });
  afterAll(async () => {
    await db.destroy();
    await database.cleanup();
  });

  it('gives the flow back once, and only to the state it issued', async () => {
    const states = new OAuthStates(db, keyring, () => clock);
    const { state, expiresAt } = await states.create(pending);
    expect(expiresAt.getTime() - clock.getTime()).toBe(stateLifetimeMs);
    expect(await states.consume(`${state}x`)).toBeNull();
    expect(await states.consume(state)).toEqual(pending);
    expect(await states.consume(state)).toBeNull();
  });

  it('stores the SHA-256 of the state and the verifier sealed, never either in clear', async () => {
    const states = new OAuthStates(db, keyring, () => clock);
    const { state } = await states.create(pending);
    const rows = await sql.query<{ row: string }>('SELECT t::text AS row FROM oauth_states AS t');
    const dump = rows.rows.map((r) => r.row).join('\n');
    expect(dump).not.toContain(state);
    expect(dump).not.toContain(pending.codeVerifier);
    expect(dump).toContain('sealed:v1:');
    // Another key cannot open the verifier: a copy of the table finishes nobody's flow.
    await expect(new OAuthStates(db, freshKeyring(), () => clock).consume(state)).rejects.toThrow(/not loaded/);
  });

  it('refuses an expired state, and forgets flows nobody finished', async () => {
    const states = new OAuthStates(db, keyring, () => clock);
    const { state } = await states.create(pending);
    clock = new Date(clock.getTime() + stateLifetimeMs + 1);
    expect(await states.consume(state)).toBeNull();
    await states.create(pending);
    const left = await sql.query<{ count: string }>('SELECT count(*) AS count FROM oauth_states WHERE expires_at < $1', [clock]);
    expect(Number(left.rows[0]!.count)).toBe(0);
  });
});
