import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { Platform } from '../../../domain/publication-events.js';
import type { SharedDatabase } from '../../../infrastructure/database/kysely.js';
import type { Keyring } from '../../../infrastructure/secrets/keyring.js';
import { openSealedText, sealText } from '../../../infrastructure/secrets/sealed-text.js';

/**
 * The `state` of each authorization under way (RFC 6749 §10.12): random, short-lived and single use. It is what
 * authenticates the callback, which the browser reaches without an API key, so only its SHA-256 is stored, and the
 * PKCE verifier beside it is sealed with the vault's key: a copy of the table lets nobody finish someone's flow.
 */

export interface OAuthStatesTable {
  oauth_states: {
    state_hash: string;
    platform: string;
    /** Sealed text (sealed-text.ts); null when the platform does not use PKCE. */
    code_verifier: string | null;
    redirect_uri: string;
    /** The API key that started the flow (its prefix), for the logs. */
    requested_by: string | null;
    created_at: Date;
    expires_at: Date;
  };
}

export const oauthStateMigrations: Record<string, Migration> = {
  '0200_oauth_states': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('oauth_states')
        .ifNotExists()
        .addColumn('state_hash', 'text', (c) => c.primaryKey())
        .addColumn('platform', 'text', (c) => c.notNull())
        .addColumn('code_verifier', 'text')
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('oauth_states_expires').ifNotExists().on('oauth_states').column('expires_at').execute();
    },
  },
};

/** Long enough to log in and consent, short enough that a leaked authorization URL soon means nothing. */
export const stateLifetimeMs = 15 * 60_000;

export interface PendingAuthorization {
  platform: Platform;
  codeVerifier: string | null;
  redirectUri: string;
  /** The prefix of the API key that started the flow. */
  requestedBy: string | null;
}

export class OAuthStates {
  private readonly db: Kysely<OAuthStatesTable>;

  constructor(
    db: SharedDatabase,
    private readonly keyring: Keyring,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.db = db as Kysely<OAuthStatesTable>;
  }

  /** A new state for a flow about to start; returns it (to put in the authorization URL) and when it expires. */
  async create(pending: PendingAuthorization): Promise<{ state: string; expiresAt: Date }> {
    const now = this.now();
    // Flows nobody finished: gone, so the table stays as small as the flows under way.
    await this.db.deleteFrom('oauth_states').where('expires_at', '<', now).execute();
    const state = randomBytes(32).toString('base64url');
    const stateHash = hashOf(state);
    const expiresAt = new Date(now.getTime() + stateLifetimeMs);
    await this.db
      .insertInto('oauth_states')
      .values({
        state_hash: stateHash,
        platform: pending.platform,
        code_verifier: pending.codeVerifier === null ? null : sealText(this.keyring, pending.codeVerifier, verifierContext(stateHash)),
        redirect_uri: pending.redirectUri,
        requested_by: pending.requestedBy,
        created_at: now,
        expires_at: expiresAt,
      })
      .execute();
    return { state, expiresAt };
  }

  /**
   * The flow a state belongs to, taken out of the table: a second callback with the same state finds nothing, whichever
   * process answers it. null for an unknown, used or expired state.
   */
  async consume(state: string): Promise<PendingAuthorization | null> {
    const stateHash = hashOf(state);
    const row = await this.db.deleteFrom('oauth_states').where('state_hash', '=', stateHash).returningAll().executeTakeFirst();
    if (!row || row.expires_at.getTime() <= this.now().getTime()) return null;
    return {
      platform: row.platform as Platform,
      codeVerifier: row.code_verifier === null ? null : openSealedText(this.keyring, row.code_verifier, verifierContext(stateHash)),
      redirectUri: row.redirect_uri,
      requestedBy: row.requested_by,
    };
  }
}

function hashOf(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}

function verifierContext(stateHash: string): string {
  return `oauth_states/${stateHash}/code_verifier`;
}
