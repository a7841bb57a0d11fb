import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthorizationServer } from './oauth-authorization-server.js';

/**
 * A stand-in for LinkedIn's versioned REST API (Posts, Images, Videos, share statistics) for one organisation, on
 * 127.0.0.1:
 * - every /rest call needs `Authorization: Bearer {accessToken}` (401 INVALID_ACCESS_TOKEN), `LinkedIn-Version`
 *   (400 VERSION_MISSING; a version refused by isActiveVersion → 426 NONEXISTENT_VERSION) and
 *   `X-Restli-Protocol-Version: 2.0.0`;
 * - POST /rest/images?action=initializeUpload → {value: {uploadUrl, image}}; PUT {uploadUrl} (Bearer too) stores bytes;
 * - POST /rest/videos?action=initializeUpload → {value: {video, uploadToken, uploadInstructions}} (4 MiB parts), a PUT
 *   per part answering an ETag, POST /rest/videos?action=finalizeUpload checks the ETags, GET /rest/videos/{urn}
 *   answers PROCESSING then AVAILABLE;
 * - POST /rest/posts: checks author, commentary, visibility, distribution, lifecycleState and that content refers to
 *   uploaded media; 201 with x-restli-id; the same commentary twice → 422 DUPLICATE_POST as LinkedIn words it;
 * - GET /rest/posts?author=&q=author&count=&start= (X-RestLi-Method: FINDER), newest first, hashtags read back as
 *   {hashtag|\#|tag} templates; GET /rest/posts/{encoded urn} one post (404 NOT_FOUND when there is none);
 * - GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=&shares=List(...) (or
 *   ugcPosts=List(...)).
 * Faults with fail(); holdNextPostAnswer() records the next post but answers it late. GET /media/{name} serves files
 * registered with serveMedia(), without auth.
 * With `oauth`, LinkedIn's OAuth 2.0 server too: GET /oauth/v2/authorization and POST /oauth/v2/accessToken
 * (client_id and client_secret in the body; programmatic refresh tokens that keep the lifetime of the consent; refusals
 * {"error": "invalid_grant"}). The access tokens it issues are accepted as Bearer until revoked.
 */

export interface LinkedInDoubleOptions {
  organizationId: string;
  accessToken: string;
  /** Versions LinkedIn still serves; default: any YYYYMM from 202506 (202505 and earlier are sunset). */
  isActiveVersion?: (version: string) => boolean;
  /** GET /rest/videos answers PROCESSING this many times before AVAILABLE; default 0. */
  videoProcessingPolls?: number;
  /** The OAuth 2.0 client LinkedIn knows. */
  oauth?: { clientId: string; clientSecret: string };
}

export interface LinkedInRecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  verdict: string;
}

export interface LinkedInPostRecord {
  id: string;
  author: string;
  commentary: string;
  visibility: string;
  lifecycleState: string;
  content?: { media?: { id: string; title?: string }; multiImage?: { images: Array<{ id: string }> } };
  createdAt: number;
}

export interface LinkedInShareStatistics {
  likeCount: number;
  shareCount: number;
  commentCount: number;
  clickCount: number;
  impressionCount: number;
  uniqueImpressionsCount: number;
  engagement: number;
}

export type LinkedInFault =
  | { kind: 'server_error'; status?: number }
  | { kind: 'rate_limited'; retryAfterSeconds?: number }
  | { kind: 'expired_token' }
  | { kind: 'invalid_token' }
  | { kind: 'permission_denied' }
  | { kind: 'duplicate' }
  /** No answer until the double closes: the client's timeout fires. */
  | { kind: 'timeout' }
  | { kind: 'response'; status: number; body: unknown; headers?: Record<string, string> };

export interface LinkedInFaultFilter {
  times?: number;
  path?: string | RegExp;
  method?: string;
}

export interface LinkedInDouble {
  url: string;
  posts: LinkedInPostRecord[];
  images: Map<string, { owner: string; bytes?: Buffer }>;
  videos: Map<string, { owner: string; size: number; parts: Array<Buffer | undefined>; etags: string[]; status: string; polls: number }>;
  requests: LinkedInRecordedRequest[];
  fail(fault: LinkedInFault, filter?: LinkedInFaultFilter): void;
  holdNextPostAnswer(ms: number): void;
  setStatistics(postUrn: string, statistics: Partial<LinkedInShareStatistics>): void;
  serveMedia(name: string, bytes: Buffer, contentType?: string): string;
  /** The OAuth 2.0 authorization server, when `oauth` was given. */
  authorization: AuthorizationServer | null;
  close(): Promise<void>;
}

export function linkedInErrorBody(status: number, code: string, message: string, serviceErrorCode?: number): unknown {
  return { status, code, message, ...(serviceErrorCode !== undefined ? { serviceErrorCode } : {}) };
}

const videoPartBytes = 4 * 1024 * 1024;

export async function startLinkedInDouble(options: LinkedInDoubleOptions): Promise<LinkedInDouble> {
  const organization = `urn:li:organization:${options.organizationId}`;
  const isActiveVersion = options.isActiveVersion ?? ((version: string) => version >= '202506');
  const posts: LinkedInPostRecord[] = [];
  const images: LinkedInDouble['images'] = new Map();
  const videos: LinkedInDouble['videos'] = new Map();
  const requests: LinkedInRecordedRequest[] = [];
  const statistics = new Map<string, Partial<LinkedInShareStatistics>>();
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  const faults: Array<{ fault: LinkedInFault; filter: LinkedInFaultFilter; left: number }> = [];
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let holdPostMs: number | undefined;
  let nextId = 7_300_000_000_000_000_000n;
  const newId = () => String(nextId++);
  const acceptedTokens = new Set([options.accessToken]);
  const authorization = options.oauth
    ? new AuthorizationServer({
        clientId: options.oauth.clientId,
        clientSecret: options.oauth.clientSecret,
        clientAuthentication: 'body',
        requirePkce: false,
        accessTokenPrefix: 'AQV-oauth-',
        refreshTokenPrefix: 'AQX-oauth-',
        accessTokenLifetimeSeconds: 5_184_000,
        refreshTokens: 'always',
        rotateRefreshTokens: false,
        refreshTokenLifetimeSeconds: 31_536_000,
        scopeSeparator: ',',
        tokenType: 'Bearer',
        errors: {
          badCode: {
            status: 400,
            body: {
              error: 'invalid_request',
              error_description: 'Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired.',
            },
          },
          deadRefreshToken: { status: 400, body: { error: 'invalid_grant', error_description: 'The provided refresh token is invalid, expired or revoked' } },
          badClient: { status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed' } },
        },
        onAccessToken: (token) => acceptedTokens.add(token),
        onAccessTokenRevoked: (token) => acceptedTokens.delete(token),
      })
    : null;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => send(res, 500, linkedInErrorBody(500, 'INTERNAL_SERVER_ERROR', String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const target = new URL(req.url ?? '/', url);
    const path = target.pathname;
    const query = Object.fromEntries(target.searchParams.entries());
    const isJson = String(req.headers['content-type'] ?? '').startsWith('application/json');
    const body = isJson ? parseJson(raw.toString('utf8')) : raw.length > 0 ? `(${raw.length} bytes)` : undefined;
    const record: LinkedInRecordedRequest = { method: req.method ?? '', path, query, headers: req.headers, body, verdict: 'ok' };
    requests.push(record);

    if (req.method === 'GET' && path.startsWith('/media/')) {
      const file = files.get(decodeURIComponent(path.slice('/media/'.length)));
      if (!file) return send(res, 404, 'not found');
      res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': String(file.bytes.length) }).end(file.bytes);
      return;
    }
    if (authorization && req.method === 'GET' && path === '/oauth/v2/authorization') {
      const answer = authorization.authorize(target.searchParams);
      if (answer.location) res.writeHead(302, { Location: answer.location }).end();
      else send(res, answer.status, answer.body);
      return;
    }
    if (authorization && req.method === 'POST' && path === '/oauth/v2/accessToken') {
      const reply = authorization.token(new URLSearchParams(raw.toString('utf8')), req.headers.authorization);
      if (reply.destroy) return void res.destroy();
      return send(res, reply.status, reply.body);
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !acceptedTokens.has(bearer)) {
      record.verdict = 'unauthorized';
      return send(res, 401, linkedInErrorBody(401, 'INVALID_ACCESS_TOKEN', 'Invalid access token', 65600));
    }
    if (path.startsWith('/rest/')) {
      const refusal = headerRefusal(req);
      if (refusal) {
        record.verdict = refusal.code;
        return send(res, refusal.status, linkedInErrorBody(refusal.status, refusal.code, refusal.message));
      }
    }
    const fault = takeFault(req.method ?? '', path);
    if (fault) {
      record.verdict = `fault ${fault.kind}`;
      return applyFault(res, fault);
    }

    if (req.method === 'PUT' && path.startsWith('/dms-uploads/')) return storeUpload(res, path, raw);
    if (req.method === 'POST' && path === '/rest/images' && query.action === 'initializeUpload') return initializeImage(res, body);
    if (req.method === 'POST' && path === '/rest/videos' && query.action === 'initializeUpload') return initializeVideo(res, body);
    if (req.method === 'POST' && path === '/rest/videos' && query.action === 'finalizeUpload') return finalizeVideo(res, body);
    if (req.method === 'GET' && path.startsWith('/rest/videos/')) return videoStatus(res, decodeURIComponent(path.slice('/rest/videos/'.length)));
    if (req.method === 'POST' && path === '/rest/posts') return createPost(res, body);
    if (req.method === 'GET' && path === '/rest/posts' && query.q === 'author') return findPosts(res, req, query);
    if (req.method === 'GET' && path.startsWith('/rest/posts/')) return readPost(res, decodeURIComponent(path.slice('/rest/posts/'.length)));
    if (req.method === 'GET' && path === '/rest/organizationalEntityShareStatistics') return shareStatistics(res, query);
    send(res, 404, linkedInErrorBody(404, 'NOT_FOUND', `No virtual resource found for ${req.method} ${path}`));
  }

  function headerRefusal(req: IncomingMessage): { status: number; code: string; message: string } | undefined {
    const version = req.headers['linkedin-version'];
    if (typeof version !== 'string' || !/^\d{6}$/.test(version)) {
      return { status: 400, code: 'VERSION_MISSING', message: 'A version must be present. Please specify a version by adding the LinkedIn-Version header.' };
    }
    if (!isActiveVersion(version)) return { status: 426, code: 'NONEXISTENT_VERSION', message: `Requested version ${version} is not active` };
    if (req.headers['x-restli-protocol-version'] !== '2.0.0') return { status: 400, code: 'ILLEGAL_ARGUMENT', message: 'Rest.li protocol version 2.0.0 is required.' };
    return undefined;
  }

  function takeFault(method: string, path: string): LinkedInFault | undefined {
    const index = faults.findIndex(({ filter }) => matches(filter, method, path));
    if (index === -1) return undefined;
    const entry = faults[index] as (typeof faults)[number];
    if (--entry.left <= 0) faults.splice(index, 1);
    return entry.fault;
  }

  function applyFault(res: ServerResponse, fault: LinkedInFault): void {
    switch (fault.kind) {
      case 'server_error': {
        const status = fault.status ?? 500;
        return send(res, status, { status, message: status === 504 ? 'Gateway Timeout' : 'Internal Server Error' });
      }
      case 'rate_limited':
        return send(
          res,
          429,
          linkedInErrorBody(429, 'TOO_MANY_REQUESTS', 'Resource level throttle APPLICATION DAY limit for calls to this resource is reached.', 101),
          fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {},
        );
      case 'expired_token':
        return send(res, 401, linkedInErrorBody(401, 'EXPIRED_ACCESS_TOKEN', 'The token used in the request has expired', 65602));
      case 'invalid_token':
        return send(res, 401, linkedInErrorBody(401, 'INVALID_ACCESS_TOKEN', 'Invalid access token', 65600));
      case 'permission_denied':
        return send(res, 403, linkedInErrorBody(403, 'ACCESS_DENIED', 'Not enough permissions to access: partnerApiPostsExternal.CREATE.20260501', 100));
      case 'duplicate':
        return send(res, 422, duplicateBody('urn:li:share:7000000000000000001'));
      case 'timeout':
        held.add(res);
        return;
      case 'response':
        return send(res, fault.status, fault.body, fault.headers);
    }
  }

  function initializeImage(res: ServerResponse, body: unknown): void {
    const owner = (body as { initializeUploadRequest?: { owner?: unknown } } | undefined)?.initializeUploadRequest?.owner;
    if (owner !== organization) return send(res, 403, linkedInErrorBody(403, 'ACCESS_DENIED', 'Not enough permissions to upload for this owner'));
    const id = newId();
    const image = `urn:li:image:C4E10AQ${id}`;
    images.set(image, { owner });
    send(res, 200, { value: { uploadUrlExpiresAt: Date.now() + 3_600_000, uploadUrl: `${url}/dms-uploads/image/${encodeURIComponent(image)}`, image } });
  }

  function initializeVideo(res: ServerResponse, body: unknown): void {
    const request = (body as { initializeUploadRequest?: { owner?: unknown; fileSizeBytes?: unknown } } | undefined)?.initializeUploadRequest;
    if (request?.owner !== organization) return send(res, 403, linkedInErrorBody(403, 'ACCESS_DENIED', 'Not enough permissions to upload for this owner'));
    if (typeof request.fileSizeBytes !== 'number' || request.fileSizeBytes <= 0) return send(res, 400, linkedInErrorBody(400, 'ILLEGAL_ARGUMENT', 'fileSizeBytes is required'));
    const video = `urn:li:video:D4E10AQ${newId()}`;
    const partCount = Math.ceil(request.fileSizeBytes / videoPartBytes);
    videos.set(video, { owner: organization, size: request.fileSizeBytes, parts: new Array(partCount).fill(undefined), etags: [], status: 'WAITING_UPLOAD', polls: 0 });
    const uploadInstructions = Array.from({ length: partCount }, (_, part) => ({
      uploadUrl: `${url}/dms-uploads/video/${encodeURIComponent(video)}/${part}`,
      firstByte: part * videoPartBytes,
      lastByte: Math.min((part + 1) * videoPartBytes, request.fileSizeBytes as number) - 1,
    }));
    send(res, 200, { value: { uploadUrlsExpireAt: Date.now() + 3_600_000, video, uploadInstructions, uploadToken: '' } });
  }

  function storeUpload(res: ServerResponse, path: string, raw: Buffer): void {
    const image = /^\/dms-uploads\/image\/([^/]+)$/.exec(path);
    if (image) {
      const entry = images.get(decodeURIComponent(image[1] as string));
      if (!entry) return send(res, 404, 'unknown upload');
      entry.bytes = raw;
      res.writeHead(201).end();
      return;
    }
    const part = /^\/dms-uploads\/video\/([^/]+)\/(\d+)$/.exec(path);
    const video = part ? videos.get(decodeURIComponent(part[1] as string)) : undefined;
    const index = Number(part?.[2]);
    if (!video || index >= video.parts.length) return send(res, 404, 'unknown upload');
    video.parts[index] = raw;
    const etag = `/ambry-video/signedId/${randomBytes(6).toString('hex')}`;
    video.etags[index] = etag;
    res.writeHead(200, { ETag: etag }).end();
  }

  function finalizeVideo(res: ServerResponse, body: unknown): void {
    const request = (body as { finalizeUploadRequest?: { video?: string; uploadedPartIds?: unknown } } | undefined)?.finalizeUploadRequest;
    const video = request?.video ? videos.get(request.video) : undefined;
    if (!video) return send(res, 400, linkedInErrorBody(400, 'ILLEGAL_ARGUMENT', 'Unknown video'));
    const received = video.parts.reduce((sum, part) => sum + (part?.length ?? 0), 0);
    if (received !== video.size || JSON.stringify(request?.uploadedPartIds) !== JSON.stringify(video.etags)) {
      return send(res, 400, linkedInErrorBody(400, 'ILLEGAL_ARGUMENT', 'Uploaded parts do not match the upload instructions'));
    }
    video.status = (options.videoProcessingPolls ?? 0) > 0 ? 'PROCESSING' : 'AVAILABLE';
    send(res, 200, {});
  }

  function videoStatus(res: ServerResponse, urn: string): void {
    const video = videos.get(urn);
    if (!video) return send(res, 404, linkedInErrorBody(404, 'NOT_FOUND', `Video ${urn} not found`));
    if (video.status === 'PROCESSING' && ++video.polls > (options.videoProcessingPolls ?? 0)) video.status = 'AVAILABLE';
    send(res, 200, { id: urn, owner: video.owner, status: video.status });
  }

  function createPost(res: ServerResponse, body: unknown): void {
    const problem = invalidPost(body);
    if (problem) return send(res, 422, { message: `ERROR :: ${problem}`, status: 422 });
    const request = body as LinkedInPostRecord & { distribution: unknown };
    const duplicate = posts.find((post) => post.commentary === request.commentary);
    if (duplicate) return send(res, 422, duplicateBody(duplicate.id));
    const post: LinkedInPostRecord = {
      id: `urn:li:share:${newId()}`,
      author: request.author,
      commentary: request.commentary,
      visibility: request.visibility,
      lifecycleState: request.lifecycleState,
      ...(request.content ? { content: request.content } : {}),
      createdAt: Date.now(),
    };
    posts.push(post);
    const answer = () => {
      if (!res.destroyed) res.writeHead(201, { 'x-restli-id': post.id, 'x-linkedin-id': post.id }).end();
    };
    if (holdPostMs === undefined) return answer();
    const delay = holdPostMs;
    holdPostMs = undefined;
    held.add(res);
    const timer = setTimeout(() => {
      timers.delete(timer);
      held.delete(res);
      answer();
    }, delay);
    timers.add(timer);
  }

  function invalidPost(body: unknown): string | undefined {
    if (!body || typeof body !== 'object') return '/ :: body is required';
    const post = body as Record<string, unknown>;
    if (post.author !== organization) return '/author :: must be the organization this token administers';
    if (typeof post.commentary !== 'string') return '/commentary :: field is required but not found and has no default value';
    if (post.visibility !== 'PUBLIC' && post.visibility !== 'CONNECTIONS') return '/visibility :: field is required but not found and has no default value';
    if ((post.distribution as { feedDistribution?: unknown } | undefined)?.feedDistribution !== 'MAIN_FEED') return '/distribution :: field is required but not found and has no default value';
    if (post.lifecycleState !== 'PUBLISHED') return '/lifecycleState :: field is required but not found and has no default value';
    const content = post.content as LinkedInPostRecord['content'];
    if (content?.media) {
      const id = content.media.id;
      const ready = images.get(id)?.bytes !== undefined || videos.get(id)?.status === 'AVAILABLE';
      if (!ready) return `/content/media/id :: ${id} is not an uploaded, processed media`;
    }
    if (content?.multiImage) {
      const list = content.multiImage.images;
      if (!Array.isArray(list) || list.length < 2 || list.length > 20) return '/content/multiImage/images :: between 2 and 20 images';
      if (list.some((image) => images.get(image.id)?.bytes === undefined)) return '/content/multiImage/images :: an image was not uploaded';
    }
    return undefined;
  }

  function findPosts(res: ServerResponse, req: IncomingMessage, query: Record<string, string>): void {
    if (String(req.headers['x-restli-method'] ?? '').toUpperCase() !== 'FINDER') {
      return send(res, 400, linkedInErrorBody(400, 'ILLEGAL_ARGUMENT', 'Finder requests need X-RestLi-Method: FINDER'));
    }
    if (query.author !== organization) return send(res, 403, linkedInErrorBody(403, 'ACCESS_DENIED', 'Not enough permissions to access posts of this author'));
    const count = Number(query.count ?? 10);
    const start = Number(query.start ?? 0);
    const newestFirst = [...posts].reverse();
    const elements = newestFirst.slice(start, start + count).map(asReturned);
    send(res, 200, { paging: { start, count, links: [], total: newestFirst.length }, elements });
  }

  function readPost(res: ServerResponse, urn: string): void {
    const post = posts.find((candidate) => candidate.id === urn);
    if (!post) return send(res, 404, linkedInErrorBody(404, 'NOT_FOUND', `Post ${urn} not found`));
    send(res, 200, asReturned(post));
  }

  function asReturned(post: LinkedInPostRecord): unknown {
    return {
      id: post.id,
      author: post.author,
      commentary: asLinkedInReturnsIt(post.commentary),
      visibility: post.visibility,
      lifecycleState: post.lifecycleState,
      distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
      createdAt: post.createdAt,
      publishedAt: post.createdAt,
      lastModifiedAt: post.createdAt,
      ...(post.content ? { content: post.content } : {}),
    };
  }

  function shareStatistics(res: ServerResponse, query: Record<string, string>): void {
    if (query.q !== 'organizationalEntity' || query.organizationalEntity !== organization) {
      return send(res, 400, linkedInErrorBody(400, 'ILLEGAL_ARGUMENT', 'q=organizationalEntity and this organization are required'));
    }
    const list = query.shares ?? query.ugcPosts;
    const ids = /^List\((.*)\)$/.exec(list ?? '')?.[1]?.split(',').filter(Boolean) ?? [];
    const elements = ids
      .filter((id) => posts.some((post) => post.id === id))
      .map((id) => ({
        organizationalEntity: organization,
        [query.shares ? 'share' : 'ugcPost']: id,
        totalShareStatistics: { likeCount: 0, shareCount: 0, commentCount: 0, clickCount: 0, impressionCount: 0, uniqueImpressionsCount: 0, engagement: 0, ...statistics.get(id) },
      }));
    send(res, 200, { paging: { start: 0, count: 10, links: [] }, elements });
  }

  return {
    url,
    posts,
    images,
    videos,
    requests,
    fail(fault, filter = {}) {
      faults.push({ fault, filter, left: filter.times ?? 1 });
    },
    holdNextPostAnswer(ms) {
      holdPostMs = ms;
    },
    setStatistics(postUrn, values) {
      statistics.set(postUrn, values);
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

function duplicateBody(existing: string): unknown {
  return {
    errorDetailType: 'com.linkedin.common.error.BadRequest',
    message: `com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of ${existing}`,
    errorDetails: { inputErrors: [{ description: 'Duplicate post is detected', input: {}, code: 'DUPLICATE_POST' }] },
    status: 422,
  };
}

/** LinkedIn reads hashtags back as little-text templates. */
function asLinkedInReturnsIt(commentary: string): string {
  return commentary.replace(/(^|[^\\])#([\p{L}\p{M}\p{N}_]+)/gu, (_, before: string, tag: string) => `${before}{hashtag|\\#|${tag}}`);
}

function matches(filter: LinkedInFaultFilter, method: string, path: string): boolean {
  if (filter.method && filter.method.toUpperCase() !== method.toUpperCase()) return false;
  if (filter.path === undefined) return true;
  return typeof filter.path === 'string' ? filter.path === path : filter.path.test(path);
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
