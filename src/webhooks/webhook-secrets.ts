import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { SecretDecryptionError, type Keyring } from '../infrastructure/secrets/keyring.js';
import { isSealedText, openSealedText, sealedTextKeyId, sealText } from '../infrastructure/secrets/sealed-text.js';
import type { WebhookSubscriptionsTable } from './webhook-subscriptions.js';

/**
 * Everything that touches a webhook secret at rest goes through here. The secret is kept so that deliveries can be
 * signed, so it cannot be hashed: it is encrypted with the token vault's keyring, bound to its subscription's id (a
 * sealed secret copied onto another subscription does not open).
 */

const generatedPrefix = 'whsec_';

export function generateWebhookSecret(): string {
  return `${generatedPrefix}${randomBytes(32).toString('base64url')}`;
}

/** How a secret is shown after its creation: enough to tell two apart, never enough to sign. */
export function maskWebhookSecret(secret: string): string {
  const prefix = secret.startsWith(generatedPrefix) ? generatedPrefix : '';
  return `${prefix}…${secret.slice(-4)}`;
}

/** Without a keyring (tests of the delivery mechanics only) the secret is stored as given. */
export function sealWebhookSecret(secret: string, subscriptionId: string, keyring: Keyring | undefined): string {
  return keyring ? sealText(keyring, secret, contextOf(subscriptionId)) : secret;
}

export function unsealWebhookSecret(stored: string, subscriptionId: string, keyring: Keyring | undefined): string {
  // Text that is not sealed was stored before the vault existed (start-up seals it: sealPlaintextWebhookSecrets).
  if (!isSealedText(stored)) return stored;
  if (!keyring) throw new Error(`The secret of webhook ${subscriptionId} is encrypted and no keyring was given to read it`);
  return openSealedText(keyring, stored, contextOf(subscriptionId));
}

export interface ResealOutcome {
  resealed: number;
  alreadyCurrent: number;
  /** Sealed with a key that is not loaded, or altered: left as they are. */
  unreadable: number;
}

/** Seals the secrets stored in clear before the vault existed. Run at start-up. */
export function sealPlaintextWebhookSecrets(db: SharedDatabase, keyring: Keyring): Promise<ResealOutcome> {
  return reseal(db, keyring, (stored) => !isSealedText(stored));
}

/** Seals again, with the current key, every secret sealed with another key (and any left in clear). keys:rotate runs it. */
export function rotateWebhookSecrets(db: SharedDatabase, keyring: Keyring): Promise<ResealOutcome> {
  return reseal(db, keyring, (stored, id) => !isSealedText(stored) || sealedTextKeyId(stored, contextOf(id)) !== keyring.currentKeyId);
}

async function reseal(db: SharedDatabase, keyring: Keyring, needsIt: (stored: string, id: string) => boolean): Promise<ResealOutcome> {
  const table = db as Kysely<WebhookSubscriptionsTable>;
  const outcome: ResealOutcome = { resealed: 0, alreadyCurrent: 0, unreadable: 0 };
  // Deleted registrations too: their rows stay, and so do their secrets.
  const rows = await table.selectFrom('webhook_subscriptions').select(['id', 'secret']).orderBy('id').execute();
  for (const row of rows) {
    if (!needsIt(row.secret, row.id)) {
      outcome.alreadyCurrent++;
      continue;
    }
    let secret: string;
    try {
      secret = unsealWebhookSecret(row.secret, row.id, keyring);
    } catch (error) {
      if (!(error instanceof SecretDecryptionError)) throw error;
      outcome.unreadable++;
      continue;
    }
    // Conditional on the text read: another process resealing the same row at the same time wins, nothing is lost.
    const updated = await table
      .updateTable('webhook_subscriptions')
      .set({ secret: sealWebhookSecret(secret, row.id, keyring) })
      .where('id', '=', row.id)
      .where('secret', '=', row.secret)
      .returning('id')
      .executeTakeFirst();
    if (updated) outcome.resealed++;
    else outcome.alreadyCurrent++;
  }
  return outcome;
}

function contextOf(subscriptionId: string): string {
  return `webhooks/${subscriptionId}/secret`;
}
