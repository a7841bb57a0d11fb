import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import twitterText from 'twitter-text';
import { AuthorizationServer } from './oauth-authorization-server.js';

/**
 * A stand-in for the X API v2 on 127.0.0.1, speaking the parts the connector uses:
 * - auth: `OAuth ...` headers (HMAC-SHA1 over method, base URL and query + oauth_* parameters, verified with the
 *   configured secrets) and/or `Bearer {token}`; anything else → 401 problem JSON;
 * - POST /2/tweets {text, media.media_ids} → 201 {data: {id, text, edit_history_tweet_ids}}; the same text twice →
 *   403 "You are not allowed to create a Tweet with duplicate content."; unknown or unprocessed media → 400;
 * - media upload v2: POST /2/media/upload/initialize (JSON), /{id}/append (multipart segment_index + media),
 *   /{id}/finalize (videos and GIFs answer processing_info pending), GET /2/media/upload?command=STATUS&media_id=;
 * - GET /2/users/me, GET /2/users/{id}/tweets (start_time, max_results 5–100, pagination_token; text returned as X
 *   does: links as t.co, a media link appended, &<> HTML-escaped), GET /2/tweets/{id}?tweet.fields=public_metrics
 *   (an unknown id → 200 with errors[]);
 * - every API answer carries x-rate-limit-limit / -remaining / -reset.
 * Faults with fail(); holdNextPostAnswer() records the next post but answers it late ("posted, caller never heard").
 * GET /media/{name} serves files registered with serveMedia(), without auth (they stand for public media URLs).
 * With `oauth2`, X's OAuth 2.0 authorization server too: GET /i/oauth2/authorize (PKCE S256 required) and
 * POST /2/oauth2/token (confidential clients with HTTP Basic; refresh tokens with offline.access, replaced at each
 * refresh; refusals as X words them: invalid_request "Value passed for the token was invalid."). The access tokens it
 * issues are accepted as Bearer until revoked.
 */

export interface XOAuth1Credentials {
  consumerKey: string;
  consumerSecret: string;
  token: string;
  tokenSecret: string;
}

export interface XApiDoubleOptions {
  userId?: string;
  username?: string;
  oauth1?: XOAuth1Credentials;
  bearerToken?: string;
  /** STATUS answers that still say in_progress before a video is processed; default 1. */
  processingPolls?: number;
  /** check_after_secs while processing; default 0. */
  checkAfterSecs?: number;
  /** The OAuth 2.0 client X knows (no secret: a public client). */
  oauth2?: { clientId: string; clientSecret?: string };
}

export interface XRecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** 'ok', or what the double answered instead ('unauthorized', 'fault 503', ...). */
  verdict: string;
}

export interface XTweetRecord {
  id: string;
  text: string;
  mediaIds: string[];
  createdAt: string;
}

export interface XMediaRecord {
  id: string;
  mediaType: string;
  category: string;
  totalBytes: number;
  segments: Buffer[];
  state: 'uploading' | 'in_progress' | 'succeeded' | 'failed';
  polls: number;
}

export interface XPublicMetrics {
  retweet_count: number;
  reply_count: number;
  like_count: number;
  quote_count: number;
  bookmark_count: number;
  impression_count: number;
}

export type XFault =
  | { kind: 'server_error'; status?: number }
  /** `quota: '24hour'` spends the daily posting quota (x-user-limit-24hour-*) rather than the 15-minute window. */
  | { kind: 'rate_limited'; resetInSeconds?: number; quota?: '15min' | '24hour' }
  | { kind: 'expired_token' }
  | { kind: 'invalid_token' }
  | { kind: 'duplicate' }
  /** No answer until the double closes: the client's timeout fires. */
  | { kind: 'timeout' }
  | { kind: 'response'; status: number; body: unknown; headers?: Record<string, string> };

export interface FaultFilter {
  /** How many matching calls get the fault; default 1. */
  times?: number;
  /** Only calls whose path equals (string) or matches (RegExp) this. */
  path?: string | RegExp;
  method?: string;
}

export interface XApiDouble {
  url: string;
  posts: XTweetRecord[];
  media: Map<string, XMediaRecord>;
  requests: XRecordedRequest[];
  fail(fault: XFault, filter?: FaultFilter): void;
  /** The next POST /2/tweets is recorded at once but answered only after `ms`. */
  holdNextPostAnswer(ms: number): void;
  /** The next video processing ends in `failed` with this message. */
  failNextProcessing(message?: string): void;
  setMetrics(tweetId: string, metrics: Partial<XPublicMetrics>): void;
  /** Registers a file served at GET /media/{name}; returns its URL. */
  serveMedia(name: string, bytes: Buffer, contentType?: string): string;
  /** The OAuth 2.0 authorization server, when `oauth2` was given. */
  authorization: AuthorizationServer | null;
  close(): Promise<void>;
}

const unauthorized = { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' };

export async function startXApiDouble(options: XApiDoubleOptions = {}): Promise<XApiDouble> {
  const userId = options.userId ?? '1500000000000000001';
  const username = options.username ?? 'levieuxmoulin';
  const processingPolls = options.processingPolls ?? 1;
  const posts: XTweetRecord[] = [];
  const media = new Map<string, XMediaRecord>();
  const requests: XRecordedRequest[] = [];
  const metrics = new Map<string, Partial<XPublicMetrics>>();
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  const faults: Array<{ fault: XFault; filter: FaultFilter; left: number }> = [];
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let holdPostMs: number | undefined;
  let failProcessing: string | undefined;
  let nextId = 1_860_000_000_000_000_000n;
  const newId = () => String(nextId++);
  const oauthBearers = new Set<string>();
  const authorization = options.oauth2
    ? new AuthorizationServer({
        clientId: options.oauth2.clientId,
        clientSecret: options.oauth2.clientSecret,
        clientAuthentication: 'basic',
        requirePkce: true,
        accessTokenPrefix: 'x-at-',
        refreshTokenPrefix: 'x-rt-',
        accessTokenLifetimeSeconds: 7_200,
        refreshTokens: 'offline.access',
        rotateRefreshTokens: true,
        scopeSeparator: ' ',
        tokenType: 'bearer',
        errors: {
          badCode: { status: 400, body: { error: 'invalid_request', error_description: 'Value passed for the authorization code was invalid.' } },
          deadRefreshToken: { status: 400, body: { error: 'invalid_request', error_description: 'Value passed for the token was invalid.' } },
          badClient: { status: 401, body: { error: 'unauthorized_client', error_description: 'Missing valid authorization header' } },
        },
        onAccessToken: (token) => oauthBearers.add(token),
        onAccessTokenRevoked: (token) => oauthBearers.delete(token),
      })
    : null;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => send(res, 500, { title: 'Internal Error', detail: String(error), status: 500 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const target = new URL(req.url ?? '/', url);
    const path = target.pathname;
    const query = Object.fromEntries(target.searchParams.entries());
    const contentType = String(req.headers['content-type'] ?? '');
    const body = contentType.startsWith('application/json') ? parseJson(raw.toString('utf8')) : contentType.startsWith('multipart/form-data') ? '(multipart)' : undefined;
    const record: XRecordedRequest = { method: req.method ?? '', path, query, headers: req.headers, body, verdict: 'ok' };
    requests.push(record);

    if (req.method === 'GET' && path.startsWith('/media/')) {
      const file = files.get(decodeURIComponent(path.slice('/media/'.length)));
      if (!file) return send(res, 404, 'not found');
      res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': String(file.bytes.length) }).end(file.bytes);
      return;
    }

    if (authorization && req.method === 'GET' && path === '/i/oauth2/authorize') {
      const answer = authorization.authorize(target.searchParams);
      if (answer.location) res.writeHead(302, { Location: answer.location }).end();
      else send(res, answer.status, answer.body);
      return;
    }
    if (authorization && req.method === 'POST' && path === '/2/oauth2/token') {
      const reply = authorization.token(new URLSearchParams(raw.toString('utf8')), req.headers.authorization);
      if (reply.destroy) return void res.destroy();
      return send(res, reply.status, reply.body);
    }

    if (!authorized(req, target)) {
      record.verdict = 'unauthorized';
      return send(res, 401, unauthorized);
    }

    const fault = takeFault(req.method ?? '', path);
    if (fault) {
      record.verdict = `fault ${fault.kind}`;
      return applyFault(res, fault);
    }

    if (req.method === 'POST' && path === '/2/tweets') return createTweet(res, body);
    if (req.method === 'POST' && path === '/2/media/upload/initialize') return initializeUpload(res, body);
    const mediaStep = /^\/2\/media\/upload\/(\d+)\/(append|finalize)$/.exec(path);
    if (req.method === 'POST' && mediaStep) {
      return mediaStep[2] === 'append' ? append(res, mediaStep[1] as string, raw, contentType) : finalize(res, mediaStep[1] as string);
    }
    if (req.method === 'GET' && path === '/2/media/upload' && query.command === 'STATUS') return status(res, query.media_id ?? '');
    if (req.method === 'GET' && path === '/2/users/me') return sendApi(res, 200, { data: { id: userId, name: 'Le Vieux Moulin', username } });
    const timeline = /^\/2\/users\/(\d+)\/tweets$/.exec(path);
    if (req.method === 'GET' && timeline) return listTweets(res, timeline[1] as string, query);
    const lookup = /^\/2\/tweets\/(\d+)$/.exec(path);
    if (req.method === 'GET' && lookup) return tweetLookup(res, lookup[1] as string);
    sendApi(res, 404, { title: 'Not Found Error', detail: `No route ${req.method} ${path}`, type: 'about:blank', status: 404 });
  }

  function authorized(req: IncomingMessage, target: URL): boolean {
    const value = req.headers.authorization ?? '';
    if (options.bearerToken && value === `Bearer ${options.bearerToken}`) return true;
    if (value.startsWith('Bearer ') && oauthBearers.has(value.slice('Bearer '.length))) return true;
    if (options.oauth1 && value.startsWith('OAuth ')) return verifyOAuth1(req.method ?? 'GET', `http://${req.headers.host}${target.pathname}`, target.searchParams, value, options.oauth1);
    return false;
  }

  function takeFault(method: string, path: string): XFault | undefined {
    const index = faults.findIndex(({ filter }) => matches(filter, method, path));
    if (index === -1) return undefined;
    const entry = faults[index] as (typeof faults)[number];
    if (--entry.left <= 0) faults.splice(index, 1);
    return entry.fault;
  }

  function applyFault(res: ServerResponse, fault: XFault): void {
    const now = Math.floor(Date.now() / 1000);
    switch (fault.kind) {
      case 'server_error': {
        const status = fault.status ?? 503;
        return send(res, status, { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status });
      }
      case 'rate_limited': {
        const reset = now + (fault.resetInSeconds ?? 900);
        const headers: Record<string, string> =
          fault.quota === '24hour'
            ? { 'x-rate-limit-limit': '300', 'x-rate-limit-remaining': '250', 'x-rate-limit-reset': String(now + 60), 'x-user-limit-24hour-limit': '17', 'x-user-limit-24hour-remaining': '0', 'x-user-limit-24hour-reset': String(reset) }
            : { 'x-rate-limit-limit': '300', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) };
        return send(res, 429, { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 }, headers);
      }
      case 'expired_token':
      case 'invalid_token':
        return send(res, 401, unauthorized);
      case 'duplicate':
        return sendApi(res, 403, duplicateBody);
      case 'timeout':
        held.add(res);
        return;
      case 'response':
        return send(res, fault.status, fault.body, fault.headers);
    }
  }

  function createTweet(res: ServerResponse, body: unknown): void {
    const request = (body ?? {}) as { text?: unknown; media?: { media_ids?: unknown } };
    const mediaIds = Array.isArray(request.media?.media_ids) ? request.media.media_ids.map(String) : [];
    if ((typeof request.text !== 'string' || !request.text) && mediaIds.length === 0) return sendApi(res, 400, invalidRequest('Post text or media is required.'));
    if (mediaIds.some((id) => media.get(id)?.state !== 'succeeded')) return sendApi(res, 400, invalidRequest('Your media IDs are invalid.'));
    const text = typeof request.text === 'string' ? request.text : '';
    if (text && posts.some((post) => post.text === text)) return sendApi(res, 403, duplicateBody);
    const tweet: XTweetRecord = { id: newId(), text, mediaIds, createdAt: new Date().toISOString() };
    posts.push(tweet);
    const answer = () => sendApi(res, 201, { data: { id: tweet.id, text, edit_history_tweet_ids: [tweet.id] } });
    if (holdPostMs === undefined) return answer();
    const delay = holdPostMs;
    holdPostMs = undefined;
    held.add(res);
    const timer = setTimeout(() => {
      timers.delete(timer);
      held.delete(res);
      if (!res.destroyed) answer();
    }, delay);
    timers.add(timer);
  }

  function initializeUpload(res: ServerResponse, body: unknown): void {
    const request = (body ?? {}) as { media_type?: unknown; total_bytes?: unknown; media_category?: unknown };
    if (typeof request.media_type !== 'string' || typeof request.total_bytes !== 'number' || request.total_bytes <= 0) {
      return sendApi(res, 400, invalidRequest('media_type and total_bytes are required.'));
    }
    const id = newId();
    media.set(id, {
      id,
      mediaType: request.media_type,
      category: typeof request.media_category === 'string' ? request.media_category : 'tweet_image',
      totalBytes: request.total_bytes,
      segments: [],
      state: 'uploading',
      polls: 0,
    });
    sendApi(res, 200, { data: { id, media_key: `3_${id}`, expires_after_secs: 86_400 } });
  }

  function append(res: ServerResponse, id: string, raw: Buffer, contentType: string): void {
    const item = media.get(id);
    if (!item || item.state !== 'uploading') return sendApi(res, 400, invalidRequest('Unknown or finalized media id.'));
    const parts = parseMultipart(raw, contentType);
    const segment = Number(parts.get('segment_index')?.toString('utf8'));
    const chunk = parts.get('media');
    if (!Number.isInteger(segment) || segment < 0 || segment > 999 || !chunk) return sendApi(res, 400, invalidRequest('segment_index and media are required.'));
    item.segments[segment] = chunk;
    sendApi(res, 200, { data: { expires_at: Math.floor(Date.now() / 1000) + 86_400 } });
  }

  function finalize(res: ServerResponse, id: string): void {
    const item = media.get(id);
    if (!item || item.state !== 'uploading') return sendApi(res, 400, invalidRequest('Unknown or finalized media id.'));
    const received = item.segments.reduce((sum, chunk) => sum + (chunk?.length ?? 0), 0);
    if (received !== item.totalBytes || item.segments.some((chunk) => !chunk)) {
      return sendApi(res, 400, invalidRequest('Segments do not add up to provided total file size.'));
    }
    const processed = item.category === 'tweet_video' || item.category === 'tweet_gif';
    item.state = processed ? 'in_progress' : 'succeeded';
    const processingInfo = processed ? { processing_info: { state: 'pending', check_after_secs: options.checkAfterSecs ?? 0 } } : {};
    sendApi(res, 200, { data: { id, media_key: `3_${id}`, size: item.totalBytes, expires_after_secs: 86_400, ...processingInfo } });
  }

  function status(res: ServerResponse, id: string): void {
    const item = media.get(id);
    if (!item) return sendApi(res, 400, invalidRequest('Unknown media id.'));
    if (item.state === 'in_progress' && ++item.polls > processingPolls) {
      item.state = failProcessing === undefined ? 'succeeded' : 'failed';
    }
    const info: Record<string, unknown> = { state: item.state, progress_percent: item.state === 'in_progress' ? 50 : 100 };
    if (item.state === 'in_progress') info.check_after_secs = options.checkAfterSecs ?? 0;
    if (item.state === 'failed') {
      info.error = { code: 1, name: 'InvalidMedia', message: failProcessing };
      failProcessing = undefined;
    }
    sendApi(res, 200, { data: { id, media_key: `3_${id}`, processing_info: info } });
  }

  function listTweets(res: ServerResponse, id: string, query: Record<string, string>): void {
    if (id !== userId) return sendApi(res, 200, { errors: [{ title: 'Not Found Error', detail: `Could not find user with id: [${id}].`, type: 'https://api.twitter.com/2/problems/resource-not-found' }] });
    const maxResults = Number(query.max_results ?? 10);
    if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 100) return sendApi(res, 400, invalidRequest('max_results must be between 5 and 100.'));
    if (query.start_time !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(query.start_time)) {
      return sendApi(res, 400, invalidRequest('Invalid start_time, expected YYYY-MM-DDTHH:mm:ssZ.'));
    }
    const since = query.start_time ? Date.parse(query.start_time) : 0;
    const matching = posts.filter((post) => Date.parse(post.createdAt) >= since).reverse();
    const offset = Number(query.pagination_token ?? 0);
    const page = matching.slice(offset, offset + maxResults);
    const next = offset + maxResults < matching.length ? String(offset + maxResults) : undefined;
    const data = page.map((post) => ({ id: post.id, text: asXReturnsIt(post), created_at: post.createdAt, edit_history_tweet_ids: [post.id] }));
    sendApi(res, 200, {
      ...(data.length > 0 ? { data } : {}),
      meta: { result_count: data.length, ...(data[0] ? { newest_id: data[0].id, oldest_id: data[data.length - 1]?.id } : {}), ...(next ? { next_token: next } : {}) },
    });
  }

  function tweetLookup(res: ServerResponse, id: string): void {
    const tweet = posts.find((post) => post.id === id);
    if (!tweet) {
      return sendApi(res, 200, {
        errors: [{ value: id, detail: `Could not find tweet with id: [${id}].`, title: 'Not Found Error', resource_type: 'tweet', parameter: 'id', resource_id: id, type: 'https://api.twitter.com/2/problems/resource-not-found' }],
      });
    }
    const counts = { retweet_count: 0, reply_count: 0, like_count: 0, quote_count: 0, bookmark_count: 0, impression_count: 0, ...metrics.get(id) };
    sendApi(res, 200, { data: { id, text: asXReturnsIt(tweet), edit_history_tweet_ids: [id], public_metrics: counts } });
  }

  return {
    url,
    posts,
    media,
    requests,
    fail(fault, filter = {}) {
      faults.push({ fault, filter, left: filter.times ?? 1 });
    },
    holdNextPostAnswer(ms) {
      holdPostMs = ms;
    },
    failNextProcessing(message = 'Unsupported video format') {
      failProcessing = message;
    },
    setMetrics(tweetId, values) {
      metrics.set(tweetId, values);
    },
    serveMedia(name, bytes, contentType = 'application/octet-stream') {
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

const duplicateBody = { detail: 'You are not allowed to create a Tweet with duplicate content.', type: 'about:blank', title: 'Forbidden', status: 403 };

function invalidRequest(message: string): unknown {
  return {
    errors: [{ parameters: {}, message }],
    title: 'Invalid Request',
    detail: 'One or more parameters to your request was invalid.',
    type: 'https://api.twitter.com/2/problems/invalid-request',
  };
}

/** The text as X's read endpoints give it: links (bare domains too) as t.co, a media link appended, &<> escaped. */
function asXReturnsIt(tweet: XTweetRecord): string {
  let text = tweet.text;
  const links = twitterText.extractUrlsWithIndices(text, { extractUrlsWithoutProtocol: true }).sort((a, b) => b.indices[0] - a.indices[0]);
  for (const [index, link] of links.entries()) text = `${text.slice(0, link.indices[0])}https://t.co/l1nk${index}${text.slice(link.indices[1])}`;
  if (tweet.mediaIds.length > 0) text = `${text} https://t.co/m3d1a`;
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function matches(filter: FaultFilter, method: string, path: string): boolean {
  if (filter.method && filter.method.toUpperCase() !== method.toUpperCase()) return false;
  if (filter.path === undefined) return true;
  return typeof filter.path === 'string' ? filter.path === path : filter.path.test(path);
}

/** RFC 3986 encoding, as OAuth 1.0a signatures use it. */
function oauthEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function verifyOAuth1(method: string, baseUrl: string, query: URLSearchParams, header: string, credentials: XOAuth1Credentials): boolean {
  const params = new Map<string, string>();
  for (const match of header.slice('OAuth '.length).matchAll(/([a-z_]+)="([^"]*)"/g)) params.set(match[1] as string, decodeURIComponent(match[2] as string));
  const signature = params.get('oauth_signature');
  if (!signature || params.get('oauth_signature_method') !== 'HMAC-SHA1' || params.get('oauth_version') !== '1.0') return false;
  if (params.get('oauth_consumer_key') !== credentials.consumerKey || params.get('oauth_token') !== credentials.token) return false;
  if (!params.get('oauth_nonce') || Math.abs(Number(params.get('oauth_timestamp')) - Date.now() / 1000) > 300) return false;

  const pairs: Array<[string, string]> = [...query.entries()];
  for (const [key, value] of params) if (key !== 'oauth_signature') pairs.push([key, value]);
  const normalized = pairs
    .map(([key, value]) => [oauthEncode(key), oauthEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const baseString = [method.toUpperCase(), oauthEncode(baseUrl), oauthEncode(normalized)].join('&');
  const expected = createHmac('sha1', `${oauthEncode(credentials.consumerSecret)}&${oauthEncode(credentials.tokenSecret)}`).update(baseString).digest('base64');
  return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

/** The named fields of a multipart/form-data body. */
function parseMultipart(body: Buffer, contentType: string): Map<string, Buffer> {
  const parts = new Map<string, Buffer>();
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return parts;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    const name = /name="([^"]+)"/.exec(part.subarray(0, headerEnd).toString('utf8'))?.[1];
    if (name && headerEnd !== -1) parts.set(name, part.subarray(headerEnd + 4));
    start = next;
  }
  return parts;
}

/** An API answer, with the rate-limit headers X puts on every one. */
function sendApi(res: ServerResponse, status: number, body: unknown): void {
  const reset = Math.floor(Date.now() / 1000) + 900;
  send(res, status, body, { 'x-rate-limit-limit': '300', 'x-rate-limit-remaining': '299', 'x-rate-limit-reset': String(reset) });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
