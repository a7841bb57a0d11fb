import { setTimeout as sleep } from 'node:timers/promises';
import axios, { type AxiosResponse } from 'axios';
import { z } from 'zod';
import { guardedRequestOptions } from '../../infrastructure/http/guarded-agents.js';
import { OutboundAllowlist } from '../../infrastructure/http/outbound-allowlist.js';
import { checkOutboundUrl, outboundRefusalOf, type OutboundCheckOptions } from '../../infrastructure/http/outbound-guard.js';
import { assertBeforePublishDeadline, mediaKind, PlatformError, type EngagementMetrics, type PlatformErrorClass, type PublishedPost, type SocialConnector, type SocialPost } from './connector.js';
import { brief, createHttpClient, defaultTimeoutMs, header, parseConfig, retryAfterMs, sameText, socialTransportError, trimBaseUrl } from './http.js';
import { singleCalls, type PlatformCalls } from './platform-calls.js';

/**
 * LinkedIn Posts API (versioned REST, Rest.li 2.0), posting as an organisation page.
 *
 * Every call sends `LinkedIn-Version: YYYYMM` (LinkedIn has no default version) and `X-Restli-Protocol-Version: 2.0.0`.
 * - publish: media first, then POST /rest/posts {author: urn:li:organization:{id}, commentary, visibility PUBLIC,
 *   distribution MAIN_FEED, lifecycleState PUBLISHED, content}; 201 with the post URN in x-restli-id. The post opens
 *   at https://www.linkedin.com/feed/update/{urn}.
 *   · images: POST /rest/images?action=initializeUpload {initializeUploadRequest: {owner}} → {value: {uploadUrl,
 *     image}}, PUT of the bytes to uploadUrl; one image → content.media {id}, several → content.multiImage {images};
 *   · one video: POST /rest/videos?action=initializeUpload {owner, fileSizeBytes} → {value: {video, uploadToken,
 *     uploadInstructions: [{uploadUrl, firstByte, lastByte}]}}, a PUT per part (each answers an ETag),
 *     POST /rest/videos?action=finalizeUpload {video, uploadToken, uploadedPartIds}, then GET /rest/videos/{urn}
 *     until AVAILABLE → content.media {id, title}.
 * - findPublished: GET /rest/posts?author={urn}&q=author&count=50&start=…&sortBy=LAST_MODIFIED (X-RestLi-Method:
 *   FINDER), up to 10 pages; the post a duplicate refusal names is read first with GET /rest/posts/{encoded urn} (404
 *   when there is none).
 * - fetchMetrics: GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={org}
 *   &shares=List({urn}) (or ugcPosts=List(...)) → elements[0].totalShareStatistics.
 * - check: the posts finder with count=1.
 * Errors are {status, code, serviceErrorCode, message}; a duplicate post is 422 with inputErrors code DUPLICATE_POST
 * ("Content is a duplicate of urn:li:share:…").
 *
 * commentary is in LinkedIn's "little text" format: \ | { } @ [ ] ( ) < > # * _ ~ are markup, and an unescaped one
 * makes LinkedIn cut the post at that point while answering 201. They are escaped, except in links (they still link)
 * and in #hashtags (they stay hashtags).
 */

export const linkedInDefaultBaseUrl = 'https://api.linkedin.com';
/** A version LinkedIn documents as active; LinkedIn keeps each monthly version for about a year. */
export const linkedInDefaultVersion = '202605';

const linkedInConfigSchema = z.looseObject({
  organization_id: z.string().regex(/^(urn:li:organization:)?\d+$/, 'must be the numeric organization id or its URN'),
  access_token: z.string().min(1).optional(),
  api_version: z.string().regex(/^\d{6}$/, 'must look like 202605').default(linkedInDefaultVersion),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
});

export interface LinkedInConnectorOptions {
  timeoutMs?: number;
  /** When given, overrides config.access_token (the token vault plugs in here). */
  accessToken?: () => Promise<string>;
  /** Which media hosts may be downloaded from: public ones, plus COMM_OUTBOUND_ALLOWLIST. */
  outbound?: OutboundCheckOptions;
  /** How each HTTP call is made (retries, circuit breaker); default once, as it is. */
  calls?: PlatformCalls;
}

/** `since` is our clock and createdAt is LinkedIn's: a few seconds of difference must not hide the post we look for. */
const clockSkewMs = 2 * 60_000;
/**
 * findPublished reads up to 500 of the newest posts (LinkedIn's finder takes a count of up to 100), as the other
 * connectors do: an attempt left without a result is searched for minutes later, and a busy page posts meanwhile.
 */
const pageSize = 50;
const maxListingPages = 10;
/** multiImage takes 2 to 20 images. */
const maxImages = 20;
const maxImageBytes = 20 * 1024 * 1024;
/** LinkedIn's organic video limit is 5 GB; a restaurant clip held in memory should stay far below. */
const maxVideoBytes = 500 * 1024 * 1024;
/** Transfers of media may take far longer than an API call. */
const minTransferTimeoutMs = 60_000;
const videoProcessingTimeoutMs = 5 * 60_000;
const videoPollMs = 1_000;

interface LinkedInErrorBody {
  status?: number;
  code?: string;
  serviceErrorCode?: number;
  message?: string;
  errorDetails?: { inputErrors?: Array<{ code?: string; description?: string }> };
}

interface LinkedInPost {
  id?: string;
  author?: string;
  commentary?: string;
  createdAt?: number;
  publishedAt?: number;
  lifecycleState?: string;
}

interface Answer<T> {
  data: T;
  headers: Record<string, unknown>;
}

export function createLinkedInConnector(config: unknown, options: LinkedInConnectorOptions = {}): SocialConnector {
  const cfg = parseConfig('linkedin', linkedInConfigSchema, config);
  const token = tokenSource(cfg.access_token, options.accessToken);
  const base = trimBaseUrl(cfg.base_url ?? linkedInDefaultBaseUrl);
  const organization = cfg.organization_id.replace(/^urn:li:organization:/, '');
  const author = `urn:li:organization:${organization}`;
  const http = createHttpClient(options.timeoutMs);
  const transferTimeoutMs = Math.max(options.timeoutMs ?? defaultTimeoutMs, minTransferTimeoutMs);
  const outbound = options.outbound ?? { allowlist: OutboundAllowlist.none };
  const postsFinder = (count: number, start = 0) => `/rest/posts?author=${encodeURIComponent(author)}&q=author&count=${count}&start=${start}&sortBy=LAST_MODIFIED`;
  const calls = options.calls ?? singleCalls;

  type Request = { json?: unknown; write?: boolean; restliMethod?: string; redoable?: boolean };

  /** Reads, and the POSTs marked redoable (upload initialisations), may be sent again; the post itself never is. */
  function call<T>(method: 'GET' | 'POST', path: string, request: Request = {}): Promise<Answer<T>> {
    return calls.run(() => callOnce<T>(method, path, request), { redoable: method === 'GET' || (request.redoable === true && !request.write) });
  }

  async function callOnce<T>(method: 'GET' | 'POST', path: string, request: Request): Promise<Answer<T>> {
    const bearer = await token();
    const headers: Record<string, string> = {
      Authorization: `Bearer ${bearer}`,
      'LinkedIn-Version': cfg.api_version,
      'X-Restli-Protocol-Version': '2.0.0',
      Accept: 'application/json',
    };
    if (request.json !== undefined) headers['Content-Type'] = 'application/json';
    if (request.restliMethod) headers['X-RestLi-Method'] = request.restliMethod;
    let response: AxiosResponse<unknown>;
    try {
      response = await http.request({ method, url: `${base}${path}`, data: request.json, headers });
    } catch (error) {
      throw socialTransportError('linkedin', error, request.write ?? false);
    }
    if (response.status >= 200 && response.status < 300) return { data: (response.data ?? {}) as T, headers: response.headers as Record<string, unknown> };
    throw linkedInError(response.status, response.data, response.headers as Record<string, unknown>, request.write ?? false, [bearer]);
  }

  /** One post by its URN, or null when LinkedIn has none (404). */
  async function readPost(urn: string): Promise<LinkedInPost | null> {
    try {
      return (await call<LinkedInPost>('GET', `/rest/posts/${encodeURIComponent(urn)}`)).data;
    } catch (error) {
      if (error instanceof PlatformError && error.details.status === 404) return null;
      throw error;
    }
  }

  /**
   * PUT of media bytes to an upload URL LinkedIn gave. LinkedIn's examples send the token with it; it is only sent to
   * LinkedIn's own hosts (or the configured API host), never to whatever host an answer might name.
   */
  function upload(uploadUrl: string, bytes: Buffer): Promise<Record<string, unknown>> {
    // A PUT of the same bytes to the same URL: sending it again changes nothing.
    return calls.run(() => uploadOnce(uploadUrl, bytes), { redoable: true });
  }

  async function uploadOnce(uploadUrl: string, bytes: Buffer): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    const secrets: string[] = [];
    if (trustedUploadHost(uploadUrl, base)) {
      const bearer = await token();
      headers.Authorization = `Bearer ${bearer}`;
      secrets.push(bearer);
    }
    let response: AxiosResponse<unknown>;
    try {
      response = await http.put(uploadUrl, bytes, { headers, timeout: transferTimeoutMs, maxBodyLength: Infinity });
    } catch (error) {
      throw socialTransportError('linkedin', error, false);
    }
    if (response.status >= 200 && response.status < 300) return response.headers as Record<string, unknown>;
    throw linkedInError(response.status, response.data, response.headers as Record<string, unknown>, false, secrets);
  }

  async function uploadImage(url: string, position: number): Promise<string> {
    const bytes = await downloadMedia(url, position, maxImageBytes, transferTimeoutMs, outbound);
    const init = await call<{ value?: { uploadUrl?: string; image?: string } }>('POST', '/rest/images?action=initializeUpload', {
      json: { initializeUploadRequest: { owner: author } },
      redoable: true,
    });
    const { uploadUrl, image } = init.data.value ?? {};
    if (!uploadUrl || !image) throw new PlatformError('linkedin', 'transient', `linkedin: media ${position}: the image upload was initialized without an upload URL`);
    await upload(uploadUrl, bytes);
    return image;
  }

  async function uploadVideo(url: string, position: number): Promise<string> {
    const bytes = await downloadMedia(url, position, maxVideoBytes, transferTimeoutMs, outbound);
    const init = await call<{ value?: { video?: string; uploadToken?: string; uploadInstructions?: Array<{ uploadUrl?: string; firstByte?: number; lastByte?: number }> } }>(
      'POST',
      '/rest/videos?action=initializeUpload',
      { json: { initializeUploadRequest: { owner: author, fileSizeBytes: bytes.length, uploadCaptions: false, uploadThumbnail: false } }, redoable: true },
    );
    const { video, uploadToken, uploadInstructions } = init.data.value ?? {};
    if (!video || !uploadInstructions?.length) throw new PlatformError('linkedin', 'transient', `linkedin: media ${position}: the video upload was initialized without instructions`);
    const partIds: string[] = [];
    for (const part of uploadInstructions) {
      if (!part.uploadUrl || part.firstByte === undefined || part.lastByte === undefined) {
        throw new PlatformError('linkedin', 'transient', `linkedin: media ${position}: incomplete upload instructions`);
      }
      const etag = header(await upload(part.uploadUrl, bytes.subarray(part.firstByte, part.lastByte + 1)), 'etag');
      if (!etag) throw new PlatformError('linkedin', 'transient', `linkedin: media ${position}: a video part was stored without an ETag`);
      partIds.push(etag);
    }
    await call('POST', '/rest/videos?action=finalizeUpload', { json: { finalizeUploadRequest: { video, uploadToken: uploadToken ?? '', uploadedPartIds: partIds } } });
    await waitForVideo(video, position);
    return video;
  }

  /** A post referencing a video LinkedIn has not processed yet fails: wait for AVAILABLE. */
  async function waitForVideo(video: string, position: number): Promise<void> {
    const deadline = Date.now() + videoProcessingTimeoutMs;
    for (;;) {
      const { data } = await call<{ status?: string }>('GET', `/rest/videos/${encodeURIComponent(video)}`);
      if (data.status === 'AVAILABLE') return;
      if (data.status === 'PROCESSING_FAILED') throw new PlatformError('linkedin', 'permanent', `linkedin: media ${position}: LinkedIn could not process the video`, { platformCode: 'PROCESSING_FAILED' });
      if (Date.now() + videoPollMs > deadline) throw new PlatformError('linkedin', 'transient', `linkedin: media ${position}: video still processing after ${videoProcessingTimeoutMs / 1000} s`);
      await sleep(videoPollMs);
    }
  }

  return {
    platform: 'linkedin',
    account: organization,

    async publish(post: SocialPost): Promise<PublishedPost> {
      const kinds = post.mediaUrls.map(mediaKind);
      if (kinds.includes('video') && kinds.length > 1) throw new PlatformError('linkedin', 'permanent', 'linkedin: a post carries one video alone, or images only');
      if (kinds.length > maxImages) throw new PlatformError('linkedin', 'permanent', `linkedin: at most ${maxImages} images per post`);
      if (!post.text.trim() && kinds.length === 0) throw new PlatformError('linkedin', 'permanent', 'linkedin: the post has neither text nor media');

      const mediaIds: string[] = [];
      for (const [index, url] of post.mediaUrls.entries()) {
        mediaIds.push(kinds[index] === 'video' ? await uploadVideo(url, index + 1) : await uploadImage(url, index + 1));
      }
      const body: Record<string, unknown> = {
        author,
        commentary: toLittleText(post.text),
        visibility: 'PUBLIC',
        distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
        lifecycleState: 'PUBLISHED',
        isReshareDisabledByAuthor: false,
      };
      if (mediaIds.length === 1) body.content = { media: { id: mediaIds[0], ...(kinds[0] === 'video' && post.title ? { title: post.title } : {}) } };
      if (mediaIds.length > 1) body.content = { multiImage: { images: mediaIds.map((id) => ({ id })) } };

      assertBeforePublishDeadline('linkedin', post);
      const created = await call('POST', '/rest/posts', { json: body, write: true });
      const urn = header(created.headers, 'x-restli-id') ?? header(created.headers, 'x-linkedin-id');
      // Created without saying what: the post may exist, so the worker must look before posting again.
      if (!urn) throw new PlatformError('linkedin', 'unknown_outcome', 'linkedin: the post was accepted without an id');
      return { postId: urn, url: linkedInPostUrl(urn) };
    },

    async findPublished(post: SocialPost, since: Date, namedPostId?: string): Promise<PublishedPost | null> {
      const from = since.getTime() - clockSkewMs;
      const isOurs = (candidate: LinkedInPost): candidate is LinkedInPost & { id: string } =>
        Boolean(candidate.id) &&
        (candidate.author === undefined || candidate.author === author) &&
        (candidate.createdAt ?? candidate.publishedAt ?? 0) >= from &&
        sameText(fromLittleText(candidate.commentary ?? ''), post.text);
      // The post a duplicate refusal named: on a busy page it may already be past the newest posts the listing reads.
      if (namedPostId && /^urn:li:(share|ugcPost):\d+$/.test(namedPostId)) {
        const named = await readPost(namedPostId);
        if (named && isOurs(named)) return { postId: named.id, url: linkedInPostUrl(named.id) };
      }
      for (let page = 0; page < maxListingPages; page++) {
        const { data } = await call<{ elements?: LinkedInPost[] }>('GET', postsFinder(pageSize, page * pageSize), { restliMethod: 'FINDER' });
        const elements = data.elements ?? [];
        const match = elements.find(isOurs);
        if (match) return { postId: match.id, url: linkedInPostUrl(match.id) };
        // Newest first: a short page, or one already older than `since`, is the end of what could match.
        if (elements.length < pageSize || !elements.some((candidate) => (candidate.createdAt ?? 0) >= from)) break;
      }
      return null;
    },

    async fetchMetrics(postId: string): Promise<EngagementMetrics> {
      const kind = /^urn:li:ugcPost:/.test(postId) ? 'ugcPosts' : /^urn:li:share:/.test(postId) ? 'shares' : undefined;
      if (!kind) throw new PlatformError('linkedin', 'permanent', `linkedin: ${brief(postId, 80)} is not a share or ugcPost URN`);
      const path = `/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=${encodeURIComponent(author)}&${kind}=List(${encodeURIComponent(postId)})`;
      const { data } = await call<{ elements?: Array<{ totalShareStatistics?: Record<string, unknown> }> }>('GET', path);
      const stats = data.elements?.[0]?.totalShareStatistics ?? {};
      const count = (name: string) => (typeof stats[name] === 'number' ? (stats[name] as number) : null);
      return {
        likes: count('likeCount'),
        shares: count('shareCount'),
        comments: count('commentCount'),
        reach: count('uniqueImpressionsCount'),
        clicks: count('clickCount'),
        impressions: count('impressionCount'),
      };
    },

    async check(): Promise<void> {
      await call('GET', postsFinder(1), { restliMethod: 'FINDER' });
    },
  };
}

export function linkedInPostUrl(urn: string): string {
  return `https://www.linkedin.com/feed/update/${urn}`;
}

const reservedCharacters = /[\\|{}@[\]()<>#*_~]/g;
/** Links (up to a space or a bracket) and #hashtags pass through unescaped. */
const verbatimRuns = /(https?:\/\/[^\s()<>[\]{}]+|#[\p{L}\p{M}\p{N}_]+)/u;

/** The post text as little-text commentary: every reserved character escaped except in links and #hashtags. */
export function toLittleText(text: string): string {
  return text
    .split(verbatimRuns)
    .map((part, index) => (index % 2 === 1 ? part : part.replace(reservedCharacters, (character) => `\\${character}`)))
    .join('');
}

/** Commentary read back as plain text: hashtag templates ({hashtag|\#|tag}) as #tag, escapes removed. */
export function fromLittleText(commentary: string): string {
  return commentary.replace(/\{hashtag\|\\?#\|([^}]*)\}/g, '#$1').replace(/\\([\\|{}@[\]()<>#*_~])/g, '$1');
}

function trustedUploadHost(uploadUrl: string, base: string): boolean {
  try {
    const target = new URL(uploadUrl);
    if (target.host === new URL(base).host) return true;
    return target.protocol === 'https:' && (target.hostname === 'linkedin.com' || target.hostname.endsWith('.linkedin.com'));
  } catch {
    return false;
  }
}

/**
 * Fetches a public media file (redirects followed: no credential travels with it). The media host refusing it
 * (404, too large) is permanent, the host being down or slow transient. Messages name the media by position: URLs may
 * carry signed query strings. A media host at a non-public address is refused (outbound-guard.ts), redirects and DNS
 * answers included.
 */
async function downloadMedia(url: string, position: number, cap: number, timeoutMs: number, outbound: OutboundCheckOptions): Promise<Buffer> {
  const failure = (errorClass: 'permanent' | 'transient', why: string, status?: number) =>
    new PlatformError('linkedin', errorClass, `linkedin: media ${position} could not be downloaded (${why})`, status ? { status } : {});
  if (!/^https?:\/\//i.test(url)) throw failure('permanent', 'not an http(s) URL');
  let response: AxiosResponse<ArrayBuffer>;
  try {
    await checkOutboundUrl(url, outbound);
    response = await axios.get<ArrayBuffer>(url, {
      ...guardedRequestOptions(outbound.allowlist, outbound.resolve),
      responseType: 'arraybuffer',
      timeout: timeoutMs,
      maxRedirects: 3,
      maxContentLength: cap,
      validateStatus: () => true,
    });
  } catch (error) {
    const refusal = outboundRefusalOf(error);
    if (refusal) throw failure(refusal.retryable ? 'transient' : 'permanent', refusal.reason);
    if (axios.isAxiosError(error) && /maxContentLength/i.test(error.message)) throw failure('permanent', `larger than ${cap / (1024 * 1024)} MB`);
    throw failure('transient', (axios.isAxiosError(error) && error.code) || 'network error');
  }
  if (response.status >= 500 || response.status === 429 || response.status === 408) throw failure('transient', `HTTP ${response.status}`, response.status);
  if (response.status < 200 || response.status >= 300) throw failure('permanent', `HTTP ${response.status}`, response.status);
  const bytes = Buffer.from(response.data);
  if (bytes.length === 0) throw failure('permanent', 'empty file');
  return bytes;
}

/** The vault's provider when given, else the configured token; checked at construction, naming the field. */
function tokenSource(configured: string | undefined, provider: (() => Promise<string>) | undefined): () => Promise<string> {
  if (provider) {
    return async () => {
      try {
        return await provider();
      } catch (error) {
        if (error instanceof PlatformError) throw error;
        throw new PlatformError('linkedin', 'auth', 'linkedin: no access token available');
      }
    };
  }
  if (configured) return () => Promise.resolve(configured);
  throw new Error('Invalid linkedin configuration: access_token: required when no token provider is given');
}

/**
 * A LinkedIn refusal as a PlatformError: 401 → auth (token expired or revoked); 403 → auth (the member lost the page
 * role or the app a scope: a person must act); 429 → rate_limited (LinkedIn's quotas are daily and it rarely says
 * when they reset); DUPLICATE_POST → duplicate, with the URN of the post it duplicates as details.existingPostId;
 * 504 on a post → unknown_outcome (the gateway gave up waiting, the post may exist); other 5xx → transient; the rest
 * (400, 404, 422, 426 version not active) → permanent.
 */
export function linkedInError(status: number, data: unknown, headers: Record<string, unknown>, write: boolean, secrets: string[] = []): PlatformError {
  const body: LinkedInErrorBody = data && typeof data === 'object' ? (data as LinkedInErrorBody) : {};
  const inputCode = body.errorDetails?.inputErrors?.find((input) => input.code)?.code;
  const message = redact(body.message ?? (typeof data === 'string' ? data : ''), secrets);
  let errorClass: PlatformErrorClass;
  if (status === 401) errorClass = 'auth';
  else if (status === 403) errorClass = 'auth';
  else if (status === 429) errorClass = 'rate_limited';
  else if (inputCode === 'DUPLICATE_POST' || /content is a duplicate/i.test(message)) errorClass = 'duplicate';
  else if (status === 504 && write) errorClass = 'unknown_outcome';
  else if (status >= 500) errorClass = 'transient';
  else errorClass = 'permanent';

  const details: PlatformError['details'] = { status };
  const platformCode = inputCode ?? body.code ?? body.serviceErrorCode;
  if (platformCode !== undefined) details.platformCode = platformCode;
  const existing = errorClass === 'duplicate' ? /duplicate of (urn:li:(?:share|ugcPost):\d+)/i.exec(message)?.[1] : undefined;
  if (existing) details.existingPostId = existing;
  if (errorClass === 'rate_limited' || errorClass === 'transient') {
    const wait = retryAfterMs(headers);
    if (wait !== undefined) details.retryAfterMs = wait;
  }
  const text = brief(message.replace(/^[\w.]+Exception:\s*/, ''));
  return new PlatformError('linkedin', errorClass, `linkedin: ${status}${platformCode !== undefined ? ` (${platformCode})` : ''}${text ? `: ${text}` : ''}`, details);
}

function redact(text: string, secrets: string[]): string {
  return secrets.filter((secret) => secret.length >= 4).reduce((result, secret) => result.split(secret).join('[redacted]'), text);
}
