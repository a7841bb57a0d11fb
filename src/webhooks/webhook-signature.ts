import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * X-Webhook-Signature: v1=<hex HMAC-SHA256 of "<X-Webhook-Timestamp>.<raw body>" keyed with the secret>.
 * The timestamp is signed with the body so that a captured request cannot be replayed later with a fresh timestamp.
 */

export function signWebhook(secret: string, timestamp: number | string, body: string | Buffer): string {
  return `v1=${hmac(secret, timestamp, body)}`;
}

export interface VerifyOptions {
  /** Refuse timestamps further than this from now (replay protection). Default 300 s; 0 turns the check off. */
  toleranceSeconds?: number;
  now?: Date;
}

/**
 * For receivers: true when `header` (X-Webhook-Signature) holds a v1 signature of this timestamp and raw body.
 * Pass the body exactly as received, before any JSON parsing. Several signatures may be given, comma-separated.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number | undefined,
  body: string | Buffer,
  header: string | undefined,
  options: VerifyOptions = {},
): boolean {
  if (!header || timestamp === undefined || !/^\d{1,12}$/.test(String(timestamp))) return false;
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (tolerance > 0 && Math.abs(nowSeconds - Number(timestamp)) > tolerance) return false;
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  return header
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('v1=') && /^[0-9a-f]{64}$/i.test(part.slice(3)))
    .some((part) => timingSafeEqual(Buffer.from(part.slice(3), 'hex'), expected));
}

function hmac(secret: string, timestamp: number | string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}
