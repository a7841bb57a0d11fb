import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Google's OAuth2 token endpoint and FCM HTTP v1 on 127.0.0.1.
 * - POST /token (form): grant_type urn:ietf:params:oauth:grant-type:jwt-bearer and an `assertion` JWT, RS256-verified
 *   with the service account's public key; iss = clientEmail, aud = this token URI, scope includes
 *   firebase.messaging, iat/exp within an hour and not expired. Answers {access_token, expires_in, token_type} or
 *   400 {error: 'invalid_grant', error_description}.
 * - POST /v1/projects/{projectId}/messages:send: Bearer must be a live token it issued (else 401 UNAUTHENTICATED);
 *   message.token is required (400 INVALID_ARGUMENT); tokens passed to unregister() answer 404 UNREGISTERED.
 *   Success: {name: projects/{id}/messages/{n}}.
 * Faults per endpoint with fail('token' | 'send', fault).
 */

export interface FcmDoubleOptions {
  projectId: string;
  clientEmail: string;
  /** The service account's public key (PEM or KeyObject). */
  publicKey: string | KeyObject;
  /** expires_in of issued tokens; default 3599. */
  tokenTtlSeconds?: number;
}

export interface FcmRecordedRequest {
  kind: 'token' | 'send' | 'other';
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  body: unknown;
  verdict: string;
}

export type FcmFault = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

export interface FcmDouble {
  url: string;
  tokenUri: string;
  requests: FcmRecordedRequest[];
  /** Access tokens issued so far. */
  issuedTokens: string[];
  /** Messages accepted (the `message` objects). */
  messages: Array<Record<string, unknown>>;
  fail(endpoint: 'token' | 'send', fault: FcmFault, times?: number): void;
  unregister(registrationToken: string): void;
  /** Every issued access token stops working (as after a key rotation). */
  revokeTokens(): void;
  stop(): Promise<void>;
}

/** google.rpc error bodies as FCM sends them. */
export function fcmErrorBody(status: number, rpcStatus: string, message: string, fcmErrorCode?: string): unknown {
  return {
    error: {
      code: status,
      message,
      status: rpcStatus,
      ...(fcmErrorCode ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: fcmErrorCode }] } : {}),
    },
  };
}

export async function startFcmDouble(options: FcmDoubleOptions): Promise<FcmDouble> {
  const publicKey = typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey;
  const requests: FcmRecordedRequest[] = [];
  const issuedTokens: string[] = [];
  const live = new Map<string, number>();
  const messages: Array<Record<string, unknown>> = [];
  const faults: Record<'token' | 'send', FcmFault[]> = { token: [], send: [] };
  const unregistered = new Set<string>();
  const hanging = new Set<ServerResponse>();
  let origin = '';
  let nextMessage = 1;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => json(res, 500, fcmErrorBody(500, 'INTERNAL', 'double failure')));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0] as string;
    const kind = path === '/token' ? 'token' : path === `/v1/projects/${options.projectId}/messages:send` ? 'send' : 'other';
    const record: FcmRecordedRequest = { kind, path, headers: req.headers, rawBody, body: undefined, verdict: 'ok' };
    requests.push(record);
    if (req.method !== 'POST' || kind === 'other') {
      record.verdict = 'not found';
      json(res, 404, fcmErrorBody(404, 'NOT_FOUND', 'Requested entity was not found.'));
      return;
    }
    const fault = faults[kind].shift();
    if (fault === 'hang') {
      hanging.add(res);
      return;
    }
    if (fault) {
      record.verdict = `fault ${fault.status}`;
      json(res, fault.status, fault.body ?? {}, fault.headers);
      return;
    }
    if (kind === 'token') token(record, rawBody, res);
    else send(record, req, rawBody, res);
  }

  function token(record: FcmRecordedRequest, rawBody: string, res: ServerResponse): void {
    const form = new URLSearchParams(rawBody);
    record.body = Object.fromEntries(form);
    const refuse = (description: string) => {
      record.verdict = description;
      json(res, 400, { error: 'invalid_grant', error_description: description });
    };
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      record.verdict = 'unsupported grant';
      json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
      return;
    }
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return refuse('Invalid JWT');
    const [head, payload, signature] = parts as [string, string, string];
    let header: { alg?: string };
    let claims: { iss?: string; scope?: string; aud?: string; iat?: number; exp?: number };
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString());
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    } catch {
      return refuse('Invalid JWT');
    }
    if (header.alg !== 'RS256') return refuse('Invalid JWT: alg');
    if (!verify('RSA-SHA256', Buffer.from(`${head}.${payload}`), publicKey, Buffer.from(signature, 'base64url'))) return refuse('Invalid JWT Signature.');
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== options.clientEmail) return refuse('Invalid JWT: iss');
    if (claims.aud !== `${origin}/token`) return refuse('Invalid JWT: aud');
    if (!(claims.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/firebase.messaging')) return refuse('Invalid JWT: scope');
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.iat > now + 60 || claims.exp <= now || claims.exp - claims.iat > 3600) {
      return refuse('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    const accessToken = `ya29.double-${randomBytes(12).toString('hex')}`;
    const ttl = options.tokenTtlSeconds ?? 3599;
    issuedTokens.push(accessToken);
    live.set(accessToken, Date.now() + ttl * 1000);
    json(res, 200, { access_token: accessToken, expires_in: ttl, token_type: 'Bearer' });
  }

  function send(record: FcmRecordedRequest, req: IncomingMessage, rawBody: string, res: ServerResponse): void {
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const expiresAt = bearer ? live.get(bearer) : undefined;
    if (!expiresAt || expiresAt <= Date.now()) {
      record.verdict = 'unauthenticated';
      json(res, 401, fcmErrorBody(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.'));
      return;
    }
    let body: { message?: Record<string, unknown> } | undefined;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    record.body = body;
    const message = body?.message;
    if (!message || typeof message.token !== 'string' || !message.token) {
      record.verdict = 'invalid argument';
      json(res, 400, fcmErrorBody(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT'));
      return;
    }
    if (unregistered.has(message.token)) {
      record.verdict = 'unregistered';
      json(res, 404, fcmErrorBody(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'));
      return;
    }
    messages.push(message);
    json(res, 200, { name: `projects/${options.projectId}/messages/0:${Date.now()}%${nextMessage++}` });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    tokenUri: `${origin}/token`,
    requests,
    issuedTokens,
    messages,
    fail(endpoint, fault, times = 1) {
      for (let i = 0; i < times; i++) faults[endpoint].push(fault);
    },
    unregister(registrationToken) {
      unregistered.add(registrationToken);
    },
    revokeTokens() {
      live.clear();
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', ...headers }).end(JSON.stringify(body));
}
