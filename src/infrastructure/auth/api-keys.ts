import type { SharedDatabase } from '../database/kysely.js';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/**
 * API keys: `cm_<prefix>_<secret>`. Only the SHA-256 of the whole key is stored (keys are long random strings,
 * so a fast hash is enough and keeps authentication off the hot path); the prefix identifies a key in logs and lists.
 */

export const scopes = [
  'admin',
  'status:read',
  'campaigns:read',
  'campaigns:write',
  'publications:read',
  'publications:write',
  'notifications:read',
  'notifications:send',
  'analytics:read',
  'webhooks:read',
  'webhooks:write',
] as const;
export type Scope = (typeof scopes)[number];

export interface ApiKeyRecord {
  id: string;
  prefix: string;
  name: string;
  scopes: Scope[];
}

/** What a listing shows of a key: never the key nor its hash. */
export interface ApiKeySummary extends ApiKeyRecord {
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** The outcome of presenting a key: why a refusal happened is told to the holder of that very key only. */
export type ApiKeyCheck =
  | { status: 'valid'; record: ApiKeyRecord }
  | { status: 'unknown' }
  | { status: 'revoked'; prefix: string }
  | { status: 'expired'; prefix: string; expiredAt: Date };

export interface ApiKeysTable {
  api_keys: {
    id: string;
    prefix: string;
    name: string;
    key_hash: string;
    scopes: string[];
    created_at: Date;
    revoked_at: Date | null;
    expires_at: Date | null;
    last_used_at: Date | null;
  };
}

type ApiKeyRow = ApiKeysTable['api_keys'];

export const apiKeyMigrations: Record<string, Migration> = {
  '0001_api_keys': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('api_keys')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('scopes', sql`text[]`, (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('revoked_at', 'timestamptz')
        .execute();
    },
  },
  // A new migration, never an edit of 0001 (already run by deployed databases); it sorts after every migration
  // released so far, so it runs last whether or not the migrator accepts migrations out of order.
  '0180_api_keys_expiry_and_last_use': {
    async up(db: SharedDatabase) {
      await db.schema.alterTable('api_keys').addColumn('expires_at', 'timestamptz').execute();
      await db.schema.alterTable('api_keys').addColumn('last_used_at', 'timestamptz').execute();
    },
  },
};

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): { key: string; prefix: string } {
  const prefix = randomBytes(4).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  return { key: `cm_${prefix}_${secret}`, prefix };
}

/** The part of a key that may be shown: its prefix, or the first characters of a key of another format. */
export function displayPrefix(key: string): string {
  const match = /^cm_([0-9a-f]{8})_/.exec(key);
  return match ? match[1]! : key.slice(0, 6);
}

export function hasScope(granted: readonly Scope[], required: Scope): boolean {
  return granted.includes('admin') || granted.includes(required);
}

const summaryColumns = ['id', 'prefix', 'name', 'scopes', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'] as const;

/** last_used_at is a hint for spotting unused keys: a minute of precision spares a write per request. */
const lastUseResolutionMs = 60_000;

export class ApiKeyStore {
  /** Key rows by hash (null: no such key); entries expire so that a revocation elsewhere takes effect within the TTL. */
  private readonly cache = new Map<string, { row: ApiKeyRow | null; expires: number }>();

  constructor(
    private readonly db: Kysely<ApiKeysTable>,
    private readonly cacheTtlMs = 10_000,
  ) {}

  /** Stores a key given as plain text (the admin key from the environment or the data dir). */
  async upsert(id: string, key: string, name: string, keyScopes: Scope[]): Promise<void> {
    const hash = hashApiKey(key);
    await this.db
      .insertInto('api_keys')
      .values({ id, prefix: displayPrefix(key), name, key_hash: hash, scopes: keyScopes, created_at: new Date(), revoked_at: null, expires_at: null, last_used_at: null })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ key_hash: hash, prefix: displayPrefix(key), scopes: keyScopes, revoked_at: null, expires_at: null }),
      )
      .execute();
    this.cache.clear();
  }

  /** A new key; the plain key is returned this once and never stored. */
  async create(name: string, keyScopes: Scope[], expiresAt: Date | null = null): Promise<{ key: string; record: ApiKeySummary }> {
    // Prefixes are 32 random bits: a collision is rare but must not replace another key, so draw again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const { key, prefix } = generateApiKey();
      const row = { id: prefix, prefix, name, key_hash: hashApiKey(key), scopes: keyScopes, created_at: new Date(), revoked_at: null, expires_at: expiresAt, last_used_at: null };
      const inserted = await this.db
        .insertInto('api_keys')
        .values(row)
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) {
        const { key_hash: _hash, ...summary } = row;
        return { key, record: summary };
      }
    }
    throw new Error('Could not draw an unused API key prefix');
  }

  async list(): Promise<ApiKeySummary[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(summaryColumns)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ ...row, scopes: row.scopes as Scope[] }));
  }

  /** The key with this id, or else with this prefix. */
  async find(idOrPrefix: string): Promise<ApiKeySummary | null> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(summaryColumns)
      .where((eb) => eb.or([eb('id', '=', idOrPrefix), eb('prefix', '=', idOrPrefix)]))
      .orderBy(sql`id = ${idOrPrefix}`, 'desc')
      .executeTakeFirst();
    return row ? { ...row, scopes: row.scopes as Scope[] } : null;
  }

  /** A key already revoked keeps its first revocation time. */
  async revoke(id: string, now = new Date()): Promise<void> {
    await this.db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    this.cache.clear();
  }

  async check(key: string, now = new Date()): Promise<ApiKeyCheck> {
    const hash = hashApiKey(key);
    const cached = this.cache.get(hash);
    const row = cached && cached.expires > now.getTime() ? cached.row : await this.load(hash, now);
    if (!row) return { status: 'unknown' };
    if (row.revoked_at) return { status: 'revoked', prefix: row.prefix };
    if (row.expires_at && row.expires_at.getTime() <= now.getTime()) return { status: 'expired', prefix: row.prefix, expiredAt: row.expires_at };
    return { status: 'valid', record: { id: row.id, prefix: row.prefix, name: row.name, scopes: row.scopes as Scope[] } };
  }

  private async load(hash: string, now: Date): Promise<ApiKeyRow | null> {
    const found = await this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
    const row = found && timingSafeEqual(Buffer.from(found.key_hash), Buffer.from(hash)) ? found : null;
    const usable = row && !row.revoked_at && (!row.expires_at || row.expires_at.getTime() > now.getTime());
    if (usable && (!row.last_used_at || now.getTime() - row.last_used_at.getTime() >= lastUseResolutionMs)) {
      await this.db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', row.id).execute();
      row.last_used_at = now;
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { row, expires: now.getTime() + this.cacheTtlMs });
    return row;
  }
}
