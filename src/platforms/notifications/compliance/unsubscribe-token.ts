import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { notificationChannels, recipientProblem, type NotificationChannel } from '../../../domain/notification.js';

/**
 * Unsubscribe tokens, for the List-Unsubscribe link of marketing emails (RFC 8058) and opt-out links in general.
 *
 * A token is opaque and URL-safe (base64url, no padding) and holds the recipient and channel *encrypted*: nothing
 * personal can be read from it, and two tokens for the same recipient look unrelated (random IV). Layout:
 *
 *   version (1 byte, 0x01) ‖ IV (12) ‖ AES-256-GCM(channel index (1) ‖ recipient UTF-8) ‖ GCM tag (16) ‖ HMAC (16)
 *
 * The HMAC is HMAC-SHA256 over everything before it, truncated to 128 bits; it is checked (in constant time) before
 * anything is decrypted. Both keys are derived from the one secret with HKDF-SHA256 (distinct `info`), so the secret
 * itself is never used as a key. Tokens do not expire: an unsubscribe link must keep working. Rotating the secret
 * invalidates the links already sent, so keep it stable (COMM_UNSUBSCRIBE_SECRET, 32+ characters).
 *
 * The HTTP server routes path parameters of up to 200 characters, which bounds the recipient a token can carry to
 * MAX_UNSUBSCRIBE_RECIPIENT_BYTES (104 bytes of UTF-8: any real email address or phone number); longer recipients
 * (push subscriptions) are refused with a RangeError — push has its own unsubscribe mechanism.
 */

export interface UnsubscribeTarget {
  recipient: string;
  channel: NotificationChannel;
}

const VERSION = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAC_BYTES = 16;
const OVERHEAD = 1 + IV_BYTES + 1 + TAG_BYTES + MAC_BYTES;
/** Longest token the unsubscribe route accepts (the server's maxParamLength). */
export const MAX_UNSUBSCRIBE_TOKEN_LENGTH = 200;
export const MAX_UNSUBSCRIBE_RECIPIENT_BYTES = Math.floor((MAX_UNSUBSCRIBE_TOKEN_LENGTH * 3) / 4) - OVERHEAD;
export const MIN_UNSUBSCRIBE_SECRET_LENGTH = 32;

export function createUnsubscribeToken(secret: string, target: UnsubscribeTarget): string {
  const keys = deriveKeys(secret);
  const problem = recipientProblem(target.channel, target.recipient);
  if (problem) throw new RangeError(`createUnsubscribeToken: recipient ${problem}`);
  const recipient = Buffer.from(target.recipient, 'utf8');
  if (recipient.length > MAX_UNSUBSCRIBE_RECIPIENT_BYTES) {
    throw new RangeError(`createUnsubscribeToken: a recipient of more than ${MAX_UNSUBSCRIBE_RECIPIENT_BYTES} bytes does not fit in a token`);
  }
  const header = Buffer.from([VERSION]);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.encryption, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(header);
  const plaintext = Buffer.concat([Buffer.from([notificationChannels.indexOf(target.channel)]), recipient]);
  const sealed = Buffer.concat([header, iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([sealed, mac(keys.mac, sealed)]).toString('base64url');
}

/** The recipient and channel of a genuine token; null for anything else (tampered, truncated, other secret, garbage). */
export function verifyUnsubscribeToken(secret: string, token: string): UnsubscribeTarget | null {
  const keys = deriveKeys(secret);
  if (typeof token !== 'string' || token.length > MAX_UNSUBSCRIBE_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  // base64url decoding ignores trailing bits: insist on the canonical encoding, so one token has one spelling.
  if (bytes.length <= OVERHEAD || bytes.toString('base64url') !== token || bytes[0] !== VERSION) return null;
  const sealed = bytes.subarray(0, bytes.length - MAC_BYTES);
  if (!timingSafeEqual(bytes.subarray(bytes.length - MAC_BYTES), mac(keys.mac, sealed))) return null;
  try {
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', keys.encryption, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(sealed.subarray(0, 1));
    decipher.setAuthTag(tag);
    const plaintext = Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    const channel = notificationChannels[plaintext[0]!];
    const recipient = plaintext.subarray(1).toString('utf8');
    if (!channel || recipientProblem(channel, recipient) !== null) return null;
    return { recipient, channel };
  } catch {
    return null;
  }
}

/** RFC 8058 one-click unsubscribe headers for a marketing email. baseUrl: the service's public HTTPS address. */
export function listUnsubscribeHeaders(baseUrl: string, token: string): { 'List-Unsubscribe': string; 'List-Unsubscribe-Post': string } {
  return {
    'List-Unsubscribe': `<${unsubscribeUrl(baseUrl, token)}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
}

/**
 * For the e-mail renderer: the List-Unsubscribe headers of one recipient, with a fresh token each time. The base URL
 * and the secret are checked here, once, so a bad configuration stops start-up instead of every send. A recipient too
 * long for a token gets no headers (the body's unsubscribe link still applies) rather than an unsendable message.
 */
export function unsubscribeHeaderFactory(baseUrl: string, secret: string): (target: UnsubscribeTarget) => Record<string, string> {
  unsubscribeUrl(baseUrl, 'check');
  deriveKeys(secret);
  return (target) => {
    if (Buffer.byteLength(target.recipient, 'utf8') > MAX_UNSUBSCRIBE_RECIPIENT_BYTES) return {};
    return listUnsubscribeHeaders(baseUrl, createUnsubscribeToken(secret, target));
  };
}

/** `<baseUrl>/api/communication/unsubscribe/<token>`; RFC 8058 wants HTTPS (plain http only for localhost). */
export function unsubscribeUrl(baseUrl: string, token: string): string {
  const url = new URL(baseUrl);
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new RangeError(`unsubscribe links must be HTTPS (RFC 8058), got ${url.protocol}//${url.host}`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new RangeError('unsubscribe token must be base64url');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/api/communication/unsubscribe/${token}`;
}

// The keys of the last secret used: every marketing e-mail gets a token, and two HKDF derivations per e-mail were a
// tenth of the worker's time during a campaign. One entry: a process uses one secret (a rotation replaces it).
let derived: { secret: string; keys: { encryption: Buffer; mac: Buffer } } | undefined;

function deriveKeys(secret: string): { encryption: Buffer; mac: Buffer } {
  if (typeof secret !== 'string' || secret.length < MIN_UNSUBSCRIBE_SECRET_LENGTH) {
    throw new RangeError(`the unsubscribe secret must be at least ${MIN_UNSUBSCRIBE_SECRET_LENGTH} characters`);
  }
  if (derived?.secret === secret) return derived.keys;
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'vieux-moulin/unsubscribe', info, 32));
  const keys = { encryption: derive('aes-256-gcm'), mac: derive('hmac-sha256') };
  derived = { secret, keys };
  return keys;
}

function mac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest().subarray(0, MAC_BYTES);
}
