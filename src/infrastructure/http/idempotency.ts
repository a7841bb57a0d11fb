import type { SharedDatabase } from '../database/kysely.js';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { ApiError, errorBody } from './api-error.js';

/**
 * Idempotency-Key for every command (POST, PUT, PATCH, DELETE):
 * - same key, same request → the first response again (with Idempotent-Replayed: true);
 * - same key, different request → 422 idempotency_key_reused;
 * - same key while the first is still running → 409 idempotency_in_progress with Retry-After.
 * Keys belong to one API key and live 24 h. A first attempt that ended in a 5xx is forgotten, so a retry runs again.
 */

export interface IdempotencyTable {
  idempotency_records: {
    owner: string;
    key: string;
    request_hash: string;
    state: 'in_progress' | 'done';
    status_code: number | null;
    response_body: string | null;
    response_headers: Record<string, string> | null;
    created_at: Date;
    updated_at: Date;
  };
}

export const idempotencyMigrations: Record<string, Migration> = {
  '0002_idempotency_records': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('idempotency_records')
        .ifNotExists()
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('response_body', 'text')
        .addColumn('response_headers', 'jsonb')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('idempotency_records_pk', ['owner', 'key'])
        .execute();
    },
  },
};

export interface IdempotencyOptions {
  /** How long a key is remembered. */
  retentionMs?: number;
  /** After this long without completing, an in-progress attempt is presumed dead and may be taken over. */
  staleAfterMs?: number;
}

const replayedHeaders = ['content-type', 'location', 'etag', 'x-position'];
const commandMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { owner: string; key: string } | null;
  }
}

export function installIdempotency(app: FastifyInstance, db: Kysely<IdempotencyTable>, options: IdempotencyOptions = {}): void {
  const retentionMs = options.retentionMs ?? 24 * 3600_000;
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  app.decorateRequest('idempotency', null);

  app.addHook('preValidation', async (request, reply) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined || !commandMethods.has(request.method) || !request.routeOptions.url) return;
    const key = Array.isArray(header) ? header[0]! : header;
    if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
      throw new ApiError('validation_failed', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [
        { path: 'headers.idempotency-key', message: 'invalid' },
      ]);
    }
    const owner = request.apiKey?.id ?? 'anonymous';
    const requestHash = hashRequest(request);
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await db
        .insertInto('idempotency_records')
        .values({ owner, key, request_hash: requestHash, state: 'in_progress', status_code: null, response_body: null, response_headers: null, created_at: new Date(), updated_at: new Date() })
        .onConflict((oc) => oc.columns(['owner', 'key']).doNothing())
        .returning('key')
        .executeTakeFirst();
      if (inserted) {
        request.idempotency = { owner, key };
        return;
      }
      const existing = await db
        .selectFrom('idempotency_records')
        .selectAll()
        .where('owner', '=', owner)
        .where('key', '=', key)
        .executeTakeFirst();
      if (!existing) continue; // deleted between the two statements: try again
      if (Date.now() - existing.created_at.getTime() > retentionMs) {
        await db.deleteFrom('idempotency_records').where('owner', '=', owner).where('key', '=', key).where('created_at', '=', existing.created_at).execute();
        continue;
      }
      if (existing.request_hash !== requestHash) throw new ApiError('idempotency_key_reused');
      if (existing.state === 'done') return replay(reply, existing);
      if (Date.now() - existing.updated_at.getTime() > staleAfterMs) {
        const taken = await db
          .updateTable('idempotency_records')
          .set({ updated_at: new Date() })
          .where('owner', '=', owner)
          .where('key', '=', key)
          .where('updated_at', '=', existing.updated_at)
          .returning('key')
          .executeTakeFirst();
        if (taken) {
          request.idempotency = { owner, key };
          return;
        }
      }
      throw new ApiError('idempotency_in_progress', undefined, [], 409, { 'retry-after': '1' });
    }
    throw new ApiError('idempotency_in_progress', undefined, [], 409, { 'retry-after': '1' });
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claim = request.idempotency;
    if (!claim) return payload;
    request.idempotency = null;
    const where = db.updateTable('idempotency_records').where('owner', '=', claim.owner).where('key', '=', claim.key);
    if (reply.statusCode >= 500) {
      await db.deleteFrom('idempotency_records').where('owner', '=', claim.owner).where('key', '=', claim.key).execute();
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const name of replayedHeaders) {
      const value = reply.getHeader(name);
      if (value !== undefined) headers[name] = String(value);
    }
    await where
      .set({ state: 'done', status_code: reply.statusCode, response_body: typeof payload === 'string' ? payload : null, response_headers: headers, updated_at: new Date() })
      .execute();
    return payload;
  });
}

function replay(reply: FastifyReply, record: IdempotencyTable['idempotency_records']): FastifyReply {
  reply.headers({ ...(record.response_headers ?? {}), 'idempotent-replayed': 'true' });
  reply.status(record.status_code ?? 200);
  // Bypass the route's serializer: the stored body is already the serialized response.
  reply.serializer((payload: unknown) => (typeof payload === 'string' ? payload : JSON.stringify(payload)));
  return reply.send(record.response_body ?? JSON.stringify(errorBody(new ApiError('internal_error'))));
}

function hashRequest(request: FastifyRequest): string {
  return createHash('sha256')
    .update(`${request.method} ${request.url}\n`)
    .update(canonicalJson(request.body ?? null))
    .digest('hex');
}

/** JSON with object keys sorted, so that {"a":1,"b":2} and {"b":2,"a":1} count as the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * For a route whose response shows a secret once (a new API key, a webhook secret): drops the request's
 * Idempotency-Key claim, so the response is not stored to be replayed. A retry with the same key runs again.
 */
export async function forgetIdempotencyClaim(request: FastifyRequest, db: Kysely<IdempotencyTable> | SharedDatabase): Promise<void> {
  const claim = request.idempotency;
  if (!claim) return;
  request.idempotency = null;
  await (db as Kysely<IdempotencyTable>).deleteFrom('idempotency_records').where('owner', '=', claim.owner).where('key', '=', claim.key).execute();
}
