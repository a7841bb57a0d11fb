import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthorizationServer } from './oauth-authorization-server.js';

/**
 * A stand-in for the Google Business Profile (My Business v4) local posts of one location, on 127.0.0.1:
 * - `Authorization: Bearer {accessToken}` required, else 401 UNAUTHENTICATED (google.rpc body);
 * - POST /v4/accounts/{a}/locations/{l}/localPosts: checks languageCode, summary (≤ 1,500), topicType, media
 *   ({mediaFormat, sourceUrl}: Google fetches the photo, so an unreachable sourceUrl → 400 INVALID_ARGUMENT), and
 *   event {title, schedule {startDate, endDate}} for EVENT and OFFER; answers the LocalPost (name, state LIVE or
 *   REJECTED, createTime, searchUrl...);
 * - GET .../localPosts (pageSize ≤ 100, pageToken; newest first) and GET .../localPosts/{id};
 * - another account or location → 404 NOT_FOUND.
 * Faults with fail(); holdNextPostAnswer() records the next post but answers it late; rejectNextPost() makes Google's
 * review reject it. GET /media/{name} serves files registered with serveMedia(), without auth.
 * With `oauth`, Google's OAuth 2.0 server too (accounts.google.com and oauth2.googleapis.com in one): GET
 * /o/oauth2/v2/auth (PKCE accepted; a refresh token with access_type=offline) and POST /token (client_id and
 * client_secret in the body; refusals {"error": "invalid_grant", "error_description": "Token has been expired or
 * revoked."}). The access tokens it issues are accepted as Bearer until revoked.
 */

export interface GoogleBusinessDoubleOptions {
  accountId: string;
  locationId: string;
  accessToken: string;
  /** The OAuth 2.0 web client Google knows. */
  oauth?: { clientId: string; clientSecret: string };
}

export interface GoogleBusinessRecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  verdict: string;
}

export interface LocalPostRecord {
  name: string;
  languageCode: string;
  summary: string;
  topicType: string;
  state: 'LIVE' | 'REJECTED';
  createTime: string;
  updateTime: string;
  searchUrl: string;
  media?: Array<{ name: string; mediaFormat: string; sourceUrl: string; googleUrl: string }>;
  event?: unknown;
}

export type GoogleBusinessFault =
  | { kind: 'server_error'; status?: number }
  | { kind: 'rate_limited'; retryAfterSeconds?: number }
  | { kind: 'expired_token' }
  | { kind: 'invalid_token' }
  | { kind: 'permission_denied' }
  | { kind: 'invalid_argument'; message?: string }
  /** No answer until the double closes: the client's timeout fires. */
  | { kind: 'timeout' }
  | { kind: 'response'; status: number; body: unknown; headers?: Record<string, string> };

export interface GoogleBusinessFaultFilter {
  times?: number;
  path?: string | RegExp;
  method?: string;
}

export interface GoogleBusinessDouble {
  url: string;
  posts: LocalPostRecord[];
  requests: GoogleBusinessRecordedRequest[];
  fail(fault: GoogleBusinessFault, filter?: GoogleBusinessFaultFilter): void;
  holdNextPostAnswer(ms: number): void;
  rejectNextPost(): void;
  serveMedia(name: string, bytes: Buffer, contentType?: string): string;
  /** The OAuth 2.0 authorization server, when `oauth` was given. */
  authorization: AuthorizationServer | null;
  close(): Promise<void>;
}

export function googleRpcError(code: number, status: string, message: string): unknown {
  return { error: { code, message, status } };
}

const topicTypes = new Set(['STANDARD', 'EVENT', 'OFFER', 'ALERT']);

export async function startGoogleBusinessDouble(options: GoogleBusinessDoubleOptions): Promise<GoogleBusinessDouble> {
  const posts: LocalPostRecord[] = [];
  const requests: GoogleBusinessRecordedRequest[] = [];
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  const faults: Array<{ fault: GoogleBusinessFault; filter: GoogleBusinessFaultFilter; left: number }> = [];
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let holdPostMs: number | undefined;
  let rejectNext = false;
  let nextId = 4_200_000_000_000_000;
  const postsPath = `/v4/accounts/${options.accountId}/locations/${options.locationId}/localPosts`;
  const acceptedTokens = new Set([options.accessToken]);
  const authorization = options.oauth
    ? new AuthorizationServer({
        clientId: options.oauth.clientId,
        clientSecret: options.oauth.clientSecret,
        clientAuthentication: 'either',
        requirePkce: false,
        accessTokenPrefix: 'ya29.oauth-',
        refreshTokenPrefix: '1//oauth-',
        accessTokenLifetimeSeconds: 3_599,
        refreshTokens: 'access_type=offline',
        rotateRefreshTokens: false,
        scopeSeparator: ' ',
        tokenType: 'Bearer',
        errors: {
          badCode: { status: 400, body: { error: 'invalid_grant', error_description: 'Malformed auth code.' } },
          deadRefreshToken: { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } },
          badClient: { status: 401, body: { error: 'invalid_client', error_description: 'The OAuth client was not found.' } },
        },
        onAccessToken: (token) => acceptedTokens.add(token),
        onAccessTokenRevoked: (token) => acceptedTokens.delete(token),
      })
    : null;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => send(res, 500, googleRpcError(500, 'INTERNAL', String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const target = new URL(req.url ?? '/', url);
    const path = target.pathname;
    const query = Object.fromEntries(target.searchParams.entries());
    const body = parseJson(raw);
    const record: GoogleBusinessRecordedRequest = { method: req.method ?? '', path, query, headers: req.headers, body, verdict: 'ok' };
    requests.push(record);

    if (req.method === 'GET' && path.startsWith('/media/')) {
      const file = files.get(decodeURIComponent(path.slice('/media/'.length)));
      if (!file) return send(res, 404, 'not found');
      res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': String(file.bytes.length) }).end(file.bytes);
      return;
    }
    if (authorization && req.method === 'GET' && path === '/o/oauth2/v2/auth') {
      const answer = authorization.authorize(target.searchParams);
      if (answer.location) res.writeHead(302, { Location: answer.location }).end();
      else send(res, answer.status, answer.body);
      return;
    }
    if (authorization && req.method === 'POST' && path === '/token') {
      const reply = authorization.token(new URLSearchParams(raw), req.headers.authorization);
      if (reply.destroy) return void res.destroy();
      return send(res, reply.status, reply.body);
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !acceptedTokens.has(bearer)) {
      record.verdict = 'unauthenticated';
      return send(res, 401, unauthenticated);
    }
    const fault = takeFault(req.method ?? '', path);
    if (fault) {
      record.verdict = `fault ${fault.kind}`;
      return applyFault(res, fault);
    }

    if (path === postsPath && req.method === 'POST') return createPost(res, body);
    if (path === postsPath && req.method === 'GET') return listPosts(res, query);
    const single = path.startsWith(`${postsPath}/`) ? posts.find((post) => `/v4/${post.name}` === path) : undefined;
    if (req.method === 'GET' && single) return send(res, 200, single);
    send(res, 404, googleRpcError(404, 'NOT_FOUND', 'Requested entity was not found.'));
  }

  function takeFault(method: string, path: string): GoogleBusinessFault | undefined {
    const index = faults.findIndex(({ filter }) => matches(filter, method, path));
    if (index === -1) return undefined;
    const entry = faults[index] as (typeof faults)[number];
    if (--entry.left <= 0) faults.splice(index, 1);
    return entry.fault;
  }

  function applyFault(res: ServerResponse, fault: GoogleBusinessFault): void {
    switch (fault.kind) {
      case 'server_error': {
        const status = fault.status ?? 503;
        return send(res, status, googleRpcError(status, status === 503 ? 'UNAVAILABLE' : 'INTERNAL', status === 503 ? 'The service is currently unavailable.' : 'Internal error encountered.'));
      }
      case 'rate_limited':
        return send(
          res,
          429,
          googleRpcError(429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service 'mybusiness.googleapis.com'."),
          fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {},
        );
      case 'expired_token':
      case 'invalid_token':
        return send(res, 401, unauthenticated);
      case 'permission_denied':
        return send(res, 403, googleRpcError(403, 'PERMISSION_DENIED', 'The caller does not have permission'));
      case 'invalid_argument':
        return send(res, 400, googleRpcError(400, 'INVALID_ARGUMENT', fault.message ?? 'Request contains an invalid argument.'));
      case 'timeout':
        held.add(res);
        return;
      case 'response':
        return send(res, fault.status, fault.body, fault.headers);
    }
  }

  async function createPost(res: ServerResponse, body: unknown): Promise<void> {
    const problem = await invalidPost(body);
    if (problem) return send(res, 400, googleRpcError(400, 'INVALID_ARGUMENT', problem));
    const request = body as { languageCode: string; summary: string; topicType: string; media?: Array<{ mediaFormat: string; sourceUrl: string }>; event?: unknown };
    const id = String(nextId++);
    const now = new Date().toISOString();
    const post: LocalPostRecord = {
      name: `accounts/${options.accountId}/locations/${options.locationId}/localPosts/${id}`,
      languageCode: request.languageCode,
      summary: request.summary,
      topicType: request.topicType,
      state: rejectNext ? 'REJECTED' : 'LIVE',
      createTime: now,
      updateTime: now,
      searchUrl: `https://local.google.com/place?id=${options.locationId}&use=posts&lpsid=${id}`,
      ...(request.media ? { media: request.media.map((m, i) => ({ name: `${id}/media/${i}`, mediaFormat: m.mediaFormat, sourceUrl: m.sourceUrl, googleUrl: `https://lh3.googleusercontent.com/p/${id}-${i}` })) } : {}),
      ...(request.event ? { event: request.event } : {}),
    };
    rejectNext = false;
    posts.push(post);
    if (holdPostMs === undefined) return send(res, 200, post);
    const delay = holdPostMs;
    holdPostMs = undefined;
    held.add(res);
    const timer = setTimeout(() => {
      timers.delete(timer);
      held.delete(res);
      send(res, 200, post);
    }, delay);
    timers.add(timer);
  }

  function listPosts(res: ServerResponse, query: Record<string, string>): void {
    const pageSize = Number(query.pageSize ?? 20);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) return send(res, 400, googleRpcError(400, 'INVALID_ARGUMENT', 'pageSize must be between 1 and 100.'));
    const newestFirst = [...posts].reverse();
    const offset = Number(query.pageToken ?? 0);
    const page = newestFirst.slice(offset, offset + pageSize);
    const next = offset + pageSize < newestFirst.length ? String(offset + pageSize) : undefined;
    send(res, 200, { ...(page.length > 0 ? { localPosts: page } : {}), ...(next ? { nextPageToken: next } : {}) });
  }

  return {
    url,
    posts,
    requests,
    fail(fault, filter = {}) {
      faults.push({ fault, filter, left: filter.times ?? 1 });
    },
    holdNextPostAnswer(ms) {
      holdPostMs = ms;
    },
    rejectNextPost() {
      rejectNext = true;
    },
    serveMedia(name, bytes, contentType = 'image/jpeg') {
      files.set(name, { bytes, contentType });
      return `${url}/media/${encodeURIComponent(name)}`;
    },
    authorization,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const unauthenticated = googleRpcError(
  401,
  'UNAUTHENTICATED',
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
);

/** What Google's validation would refuse in a LocalPost, or undefined. */
async function invalidPost(body: unknown): Promise<string | undefined> {
  if (!body || typeof body !== 'object') return 'Invalid JSON payload received.';
  const post = body as Record<string, unknown>;
  if (typeof post.languageCode !== 'string' || !post.languageCode) return 'languageCode is required.';
  if (typeof post.summary !== 'string' || [...post.summary].length > 1_500) return 'summary is required and at most 1500 characters.';
  if (typeof post.topicType !== 'string' || !topicTypes.has(post.topicType)) return 'Invalid value at \'local_post.topic_type\'.';
  if (post.media !== undefined) {
    if (!Array.isArray(post.media)) return 'media must be a list.';
    for (const item of post.media as Array<Record<string, unknown>>) {
      if (item.mediaFormat !== 'PHOTO' && item.mediaFormat !== 'VIDEO') return 'Invalid value at \'local_post.media[0].media_format\'.';
      if (typeof item.sourceUrl !== 'string' || !(await fetchable(item.sourceUrl))) return 'The photo could not be fetched from sourceUrl.';
    }
  }
  if (post.topicType === 'EVENT' || post.topicType === 'OFFER') {
    const event = post.event as { title?: unknown; schedule?: { startDate?: GoogleDate; endDate?: GoogleDate } } | undefined;
    if (!event || typeof event.title !== 'string' || !event.title) return 'event.title is required for EVENT and OFFER posts.';
    const start = dateValue(event.schedule?.startDate);
    const end = dateValue(event.schedule?.endDate);
    if (start === undefined || end === undefined || end < start) return 'event.schedule needs a startDate and an endDate not before it.';
  }
  return undefined;
}

interface GoogleDate {
  year?: unknown;
  month?: unknown;
  day?: unknown;
}

function dateValue(date: GoogleDate | undefined): number | undefined {
  if (!date || typeof date.year !== 'number' || typeof date.month !== 'number' || typeof date.day !== 'number') return undefined;
  if (date.month < 1 || date.month > 12 || date.day < 1 || date.day > 31) return undefined;
  return Date.UTC(date.year, date.month - 1, date.day);
}

async function fetchable(sourceUrl: string): Promise<boolean> {
  try {
    const response = await fetch(sourceUrl);
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function matches(filter: GoogleBusinessFaultFilter, method: string, path: string): boolean {
  if (filter.method && filter.method.toUpperCase() !== method.toUpperCase()) return false;
  if (filter.path === undefined) return true;
  return typeof filter.path === 'string' ? filter.path === path : filter.path.test(path);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
