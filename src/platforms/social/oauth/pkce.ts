import { createHash, randomBytes } from 'node:crypto';

/**
 * PKCE (RFC 7636) with the S256 method: the verifier stays with us, the authorization request carries its SHA-256, and
 * the token request proves we are the ones who started the flow. 32 random bytes give the 43-character verifier, the
 * shortest the RFC allows and the strongest it needs.
 */
export function generateCodeVerifier(): string {
  return randomBytes(32).toString('base64url');
}

export function codeChallengeS256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
