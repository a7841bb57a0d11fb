import { randomBytes } from 'node:crypto';

/**
 * Everything that touches a webhook secret at rest goes through here: the secret is kept so that deliveries can be
 * signed, so it cannot be hashed. Today it is stored as given; when the token vault lands, seal/unseal encrypt and
 * decrypt and nothing else changes.
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

export function sealWebhookSecret(secret: string): string {
  return secret;
}

export function unsealWebhookSecret(stored: string): string {
  return stored;
}
