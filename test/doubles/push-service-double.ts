import { createDecipheriv, createECDH, createHmac, createPublicKey, randomUUID, verify, type ECDH } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Web Push service (RFC 8030) on 127.0.0.1: POST /push/{id} is a subscription endpoint. Like a real one it checks
 * - `Authorization: vapid t=<JWT>, k=<application server key>` (RFC 8292): the JWT is ES256-signed by k, its `aud` is
 *   this service's origin, `exp` is in the future and at most 24 h away, `sub` is mailto: or https:; when
 *   `vapidPublicKey` is given, k must be it (a push service ties a subscription to the key it was created with) → 403;
 * - `Content-Encoding: aes128gcm` with a non-empty body, and a TTL header → 400 otherwise;
 * and answers 201 with a Location. Faults (410, 429 + Retry-After, 413, 500…, or a hang) come from fail(); gone(id)
 * makes an endpoint answer 410 for good. decryptAes128gcm() opens a recorded body with the subscriber's keys.
 */

export interface PushServiceDoubleOptions {
  /** The VAPID public key subscriptions were created with (URL-safe base64, uncompressed P-256 point). */
  vapidPublicKey?: string;
}

export interface PushRecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** 'ok', or why the request was refused. */
  verdict: string;
  jwtClaims?: Record<string, unknown>;
}

export type PushFault = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

export interface PushServiceDouble {
  url: string;
  /** A fresh subscription endpoint on this service. */
  endpoint(id?: string): string;
  requests: PushRecordedRequest[];
  fail(fault: PushFault, times?: number): void;
  /** The endpoint's subscription has expired: 410 from now on. */
  gone(endpoint: string): void;
  stop(): Promise<void>;
}

export async function startPushServiceDouble(options: PushServiceDoubleOptions = {}): Promise<PushServiceDouble> {
  const requests: PushRecordedRequest[] = [];
  const faults: PushFault[] = [];
  const goneIds = new Set<string>();
  const hanging = new Set<ServerResponse>();
  let origin = '';

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.writeHead(500).end());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = (req.url ?? '/').split('?')[0] as string;
    const record: PushRecordedRequest = { path, headers: req.headers, body: Buffer.concat(chunks), verdict: 'ok' };
    requests.push(record);
    const match = /^\/push\/([\w-]+)$/.exec(path);
    if (req.method !== 'POST' || !match) {
      record.verdict = 'not found';
      res.writeHead(404).end();
      return;
    }

    const auth = checkVapid(header(req, 'authorization'));
    if (auth.claims) record.jwtClaims = auth.claims;
    if (auth.refusal) {
      record.verdict = auth.refusal.reason;
      res.writeHead(auth.refusal.status, { 'Content-Type': 'text/plain' }).end(auth.refusal.reason);
      return;
    }
    if (header(req, 'content-encoding') !== 'aes128gcm' || record.body.length === 0 || header(req, 'ttl') === undefined) {
      record.verdict = 'bad encoding or TTL';
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('expected an aes128gcm body and a TTL header');
      return;
    }
    if (goneIds.has(match[1] as string)) {
      record.verdict = 'gone';
      res.writeHead(410, { 'Content-Type': 'text/plain' }).end('push subscription has unsubscribed or expired.');
      return;
    }
    const fault = faults.shift();
    if (fault === 'hang') {
      hanging.add(res);
      return;
    }
    if (fault) {
      record.verdict = `fault ${fault.status}`;
      res.writeHead(fault.status, { 'Content-Type': 'text/plain', ...(fault.headers ?? {}) }).end(fault.body ?? '');
      return;
    }
    res.writeHead(201, { Location: `${origin}/messages/${randomUUID()}`, TTL: header(req, 'ttl') ?? '0' }).end();
  }

  function checkVapid(authorization: string | undefined): { claims?: Record<string, unknown>; refusal?: { status: number; reason: string } } {
    const match = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+),\s*k=([\w-]+)$/.exec(authorization ?? '');
    if (!match) return { refusal: { status: 401, reason: 'missing or malformed vapid authorization' } };
    const [jwt, k] = [match[1] as string, match[2] as string];
    const [head, payload, signature] = jwt.split('.') as [string, string, string];
    let claims: Record<string, unknown>;
    try {
      const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: string };
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      if (header.alg !== 'ES256') return { claims, refusal: { status: 401, reason: 'jwt alg is not ES256' } };
      const point = Buffer.from(k, 'base64url');
      if (point.length !== 65 || point[0] !== 4) return { claims, refusal: { status: 401, reason: 'k is not an uncompressed P-256 point' } };
      const key = createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
        format: 'jwk',
      });
      const valid = verify('sha256', Buffer.from(`${head}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
      if (!valid) return { claims, refusal: { status: 401, reason: 'jwt signature does not verify with k' } };
    } catch {
      return { refusal: { status: 401, reason: 'unreadable jwt' } };
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== origin) return { claims, refusal: { status: 401, reason: `jwt aud is not ${origin}` } };
    if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 24 * 3600) return { claims, refusal: { status: 401, reason: 'jwt exp out of range' } };
    if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) return { claims, refusal: { status: 401, reason: 'jwt sub is not mailto: or https:' } };
    if (options.vapidPublicKey && k !== options.vapidPublicKey) return { claims, refusal: { status: 403, reason: 'vapid key does not match the subscription' } };
    return { claims };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    endpoint: (id = randomUUID()) => `${origin}/push/${id}`,
    requests,
    fail(fault, times = 1) {
      for (let i = 0; i < times; i++) faults.push(fault);
    },
    gone(endpoint) {
      goneIds.add(endpoint.split('/').pop() as string);
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A browser's side of a subscription: an ECDH P-256 key pair and a 16-byte auth secret. */
export interface PushSubscriberKeys {
  ecdh: ECDH;
  p256dh: string;
  auth: string;
}

export function createSubscriberKeys(authSecret: Buffer): PushSubscriberKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') };
}

/** Opens an aes128gcm body (RFC 8291 / RFC 8188, one record) with the subscriber's private key and auth secret. */
export function decryptAes128gcm(body: Buffer, subscriber: PushSubscriberKeys): string {
  const salt = body.subarray(0, 16);
  const idLength = body[20] as number;
  const serverPublicKey = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();
  const ecdhSecret = subscriber.ecdh.computeSecret(serverPublicKey);
  const prkKey = hmac(Buffer.from(subscriber.auth, 'base64url'), ecdhSecret);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), subscriber.ecdh.getPublicKey(), serverPublicKey, Buffer.from([1])]);
  const ikm = hmac(prkKey, keyInfo);
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('aes128gcm: last record delimiter missing');
  return padded.subarray(0, end).toString('utf8');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
