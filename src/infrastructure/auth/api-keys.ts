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

export interface ApiKeysTable {
  api_keys: {
    id: string;
    prefix: string;
    name: string;
    key_hash: string;
    scopes: string[];
    created_at: Date;
    revoked_at: Date | null;
  };
}

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

export class ApiKeyStore {
  /** Verified keys by hash; entries expire so that a revocation takes effect within the TTL. */
  private readonly cache = new Map<string, { record: ApiKeyRecord | null; expires: number }>();

  constructor(
    private readonly db: Kysely<ApiKeysTable>,
    private readonly cacheTtlMs = 10_000,
  ) {}

  /** Stores a key given as plain text (the admin key from the environment or the data dir). */
  async upsert(id: string, key: string, name: string, keyScopes: Scope[]): Promise<void> {
    const hash = hashApiKey(key);
    await this.db
      .insertInto('api_keys')
      .values({ id, prefix: displayPrefix(key), name, key_hash: hash, scopes: keyScopes, created_at: new Date(), revoked_at: null })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ key_hash: hash, prefix: displayPrefix(key), scopes: keyScopes, revoked_at: null }),
      )
      .execute();
    this.cache.clear();
  }

  async create(name: string, keyScopes: Scope[]): Promise<{ key: string; record: ApiKeyRecord }> {
    const { key, prefix } = generateApiKey();
    await this.upsert(prefix, key, name, keyScopes);
    return { key, record: { id: prefix, prefix, name, scopes: keyScopes } };
  }

  async verify(key: string): Promise<ApiKeyRecord | null> {
    const hash = hashApiKey(key);
    const cached = this.cache.get(hash);
    if (cached && cached.expires > Date.now()) return cached.record;
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'prefix', 'name', 'key_hash', 'scopes'])
      .where('key_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const record =
      row && timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash))
        ? { id: row.id, prefix: row.prefix, name: row.name, scopes: row.scopes as Scope[] }
        : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { record, expires: Date.now() + this.cacheTtlMs });
    return record;
  }
}
