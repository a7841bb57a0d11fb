import { createHmac } from 'node:crypto';
import type { AxiosResponse } from 'axios';
import OAuth from 'oauth-1.0a';
import twitterText from 'twitter-text';
import { z } from 'zod';
import type { OutboundCheckOptions } from '../../infrastructure/http/outbound-guard.js';
import { assertBeforePublishDeadline, mediaKind, PlatformError, type EngagementMetrics, type PlatformErrorClass, type PublishedPost, type SocialConnector, type SocialPost } from './connector.js';
import { brief, createHttpClient, defaultTimeoutMs, header, parseConfig, retryAfterMs, sameText, socialTransportError, trimBaseUrl } from './http.js';
import { singleCalls, type PlatformCalls } from './platform-calls.js';
import { uploadTweetMedia, type XMediaApi } from './x-media-upload.js';

/**
 * X (Twitter) API v2, posting as one user.
 *
 * - Authentication: OAuth 1.0a user context (HMAC-SHA1 over the method, the URL and its query; JSON and multipart
 *   bodies are not signed) when api_key, api_secret, access_token and access_token_secret are configured; otherwise an
 *   OAuth 2.0 user token as Bearer — options.accessToken when given (it wins), else config access_token.
 * - publish: media uploaded first (x-media-upload.ts), then POST /2/tweets {text, media: {media_ids}} → {data: {id}}.
 *   X takes up to 4 photos, or one GIF, or one video. The post opens at https://x.com/i/web/status/{id}.
 * - findPublished: GET /2/users/{id}/tweets from `since`; the user id is config user_id, else GET /2/users/me (kept).
 * - fetchMetrics: GET /2/tweets/{id}?tweet.fields=public_metrics.
 * - check: GET /2/users/me.
 * Errors are problem JSON {title, detail, type, status} (400s may add errors[{message}]). 429 carries
 * x-rate-limit-reset (epoch seconds); posting limits per 24 h come with x-user-limit-24hour-* / x-app-limit-24hour-*.
 */

export const xDefaultBaseUrl = 'https://api.x.com';

const xConfigSchema = z.looseObject({
  api_key: z.string().min(1).optional(),
  api_secret: z.string().min(1).optional(),
  access_token: z.string().min(1).optional(),
  access_token_secret: z.string().min(1).optional(),
  /** The numeric id of the posting user: saves a GET /2/users/me and names the account for quotas. */
  user_id: z.string().regex(/^\d+$/, 'must be the numeric user id').optional(),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
});

export interface XConnectorOptions {
  timeoutMs?: number;
  /** An OAuth 2.0 user token; when given it is sent as Bearer instead of OAuth 1.0a. */
  accessToken?: () => Promise<string>;
  /** Which media hosts may be downloaded from: public ones, plus COMM_OUTBOUND_ALLOWLIST. */
  outbound?: OutboundCheckOptions;
  /** How each HTTP call is made (retries, circuit breaker); default once, as it is. */
  calls?: PlatformCalls;
}

/** `since` is our clock and created_at is X's: a few seconds of difference must not hide the post we look for. */
const clockSkewMs = 2 * 60_000;
/** Pages of 100 posts read by findPublished: a restaurant account does not post hundreds of times an attempt. */
const maxTimelinePages = 5;
/** A video download may take far longer than an API call. */
const minDownloadTimeoutMs = 60_000;

type Authorize = (method: string, url: string) => Promise<string>;

interface Tweet {
  id?: string;
  text?: string;
  note_tweet?: { text?: string };
}

interface ProblemBody {
  title?: string;
  detail?: string;
  type?: string;
  errors?: Array<{ message?: string; code?: number; title?: string; detail?: string }>;
}

export function createXConnector(config: unknown, options: XConnectorOptions = {}): SocialConnector {
  const cfg = parseConfig('twitter', xConfigSchema, config);
  const { authorize, secrets } = xAuthorization(cfg, options.accessToken);
  const base = trimBaseUrl(cfg.base_url ?? xDefaultBaseUrl);
  const http = createHttpClient(options.timeoutMs);
  const downloadTimeoutMs = Math.max(options.timeoutMs ?? defaultTimeoutMs, minDownloadTimeoutMs);
  let ownId: Promise<string> | undefined = cfg.user_id ? Promise.resolve(cfg.user_id) : undefined;
  const calls = options.calls ?? singleCalls;

  type Request = { query?: Record<string, string>; json?: unknown; form?: FormData; write?: boolean; redoable?: boolean };

  /** Reads, and the POSTs marked redoable (media upload steps), may be sent again; the post itself never is. */
  function call<T>(method: 'GET' | 'POST', path: string, request: Request = {}): Promise<T> {
    return calls.run(() => callOnce<T>(method, path, request), { redoable: method === 'GET' || (request.redoable === true && !request.write) });
  }

  async function callOnce<T>(method: 'GET' | 'POST', path: string, request: Request): Promise<T> {
    const url = `${base}${path}${queryString(request.query)}`;
    const headers: Record<string, string> = { Authorization: await authorize(method, url), Accept: 'application/json' };
    if (request.json !== undefined) headers['Content-Type'] = 'application/json';
    let response: AxiosResponse<unknown>;
    try {
      response = await http.request({ method, url, data: request.json ?? request.form, headers });
    } catch (error) {
      throw socialTransportError('twitter', error, request.write ?? false);
    }
    if (response.status >= 200 && response.status < 300) return response.data as T;
    throw xError(response.status, response.data, response.headers as Record<string, unknown>, request.write ?? false, await secrets());
  }

  const mediaApi: XMediaApi = {
    post: (path, body = {}) => call('POST', path, body),
    get: (path, query) => call('GET', path, { query }),
  };

  function me(): Promise<string> {
    if (ownId) return ownId;
    const lookup = call<{ data?: { id?: string } }>('GET', '/2/users/me').then((answer) => {
      if (!answer.data?.id) throw new PlatformError('twitter', 'transient', 'twitter: /2/users/me answered without a user id');
      return answer.data.id;
    });
    ownId = lookup;
    // A failed lookup is not kept: the next call asks again.
    lookup.catch(() => {
      if (ownId === lookup) ownId = undefined;
    });
    return lookup;
  }

  return {
    platform: 'twitter',
    // One X account per deployment; user_id names it when configured.
    account: cfg.user_id ?? 'me',

    async publish(post: SocialPost): Promise<PublishedPost> {
      checkMediaMix(post.mediaUrls);
      if (!post.text.trim() && post.mediaUrls.length === 0) throw new PlatformError('twitter', 'permanent', 'twitter: the post has neither text nor media');
      const mediaIds: string[] = [];
      for (const [index, url] of post.mediaUrls.entries()) {
        mediaIds.push(await uploadTweetMedia(mediaApi, url, index + 1, { downloadTimeoutMs, outbound: options.outbound }));
      }
      const body = { ...(post.text ? { text: post.text } : {}), ...(mediaIds.length > 0 ? { media: { media_ids: mediaIds } } : {}) };
      assertBeforePublishDeadline('twitter', post);
      const answer = await call<{ data?: Tweet }>('POST', '/2/tweets', { json: body, write: true });
      const id = answer.data?.id;
      // A success without an id: the post may well exist, so the worker must look before posting again.
      if (!id) throw new PlatformError('twitter', 'unknown_outcome', 'twitter: the post was accepted without an id');
      return { postId: id, url: xPostUrl(id) };
    },

    async findPublished(post: SocialPost, since: Date): Promise<PublishedPost | null> {
      const userId = await me();
      const query: Record<string, string> = {
        start_time: xTime(new Date(since.getTime() - clockSkewMs)),
        max_results: '100',
        'tweet.fields': 'created_at,note_tweet',
        exclude: 'retweets,replies',
      };
      for (let page = 0; page < maxTimelinePages; page++) {
        const answer = await call<{ data?: Tweet[]; meta?: { next_token?: string } }>('GET', `/2/users/${encodeURIComponent(userId)}/tweets`, { query });
        for (const tweet of answer.data ?? []) {
          if (tweet.id && sameTweetText(tweet.note_tweet?.text ?? tweet.text ?? '', post.text)) return { postId: tweet.id, url: xPostUrl(tweet.id) };
        }
        if (!answer.meta?.next_token) break;
        query.pagination_token = answer.meta.next_token;
      }
      return null;
    },

    async fetchMetrics(postId: string): Promise<EngagementMetrics> {
      const answer = await call<{ data?: { public_metrics?: Record<string, unknown> }; errors?: ProblemBody['errors'] }>('GET', `/2/tweets/${encodeURIComponent(postId)}`, {
        query: { 'tweet.fields': 'public_metrics' },
      });
      if (!answer.data) {
        // X answers 200 with errors[] for an unknown or deleted post.
        const reason = answer.errors?.[0]?.detail ?? answer.errors?.[0]?.title ?? 'no data';
        throw new PlatformError('twitter', 'permanent', `twitter: metrics of ${postId} unavailable: ${brief(reason)}`, { status: 200 });
      }
      const metrics = answer.data.public_metrics ?? {};
      const count = (name: string) => (typeof metrics[name] === 'number' ? (metrics[name] as number) : null);
      const retweets = count('retweet_count');
      const quotes = count('quote_count');
      return {
        likes: count('like_count'),
        shares: retweets === null && quotes === null ? null : (retweets ?? 0) + (quotes ?? 0),
        comments: count('reply_count'),
        impressions: count('impression_count'),
        // Public metrics carry neither reach nor link clicks (those need the owner-only non_public_metrics).
        reach: null,
        clicks: null,
      };
    },

    async check(): Promise<void> {
      const answer = await call<{ data?: { id?: string } }>('GET', '/2/users/me');
      if (!cfg.user_id && answer.data?.id) ownId = Promise.resolve(answer.data.id);
    },
  };
}

export function xPostUrl(id: string): string {
  return `https://x.com/i/web/status/${id}`;
}

/**
 * Chooses the credentials, at construction so a connector that cannot authenticate fails at start-up, naming the
 * fields. OAuth 1.0a needs all four keys: a partial set is refused rather than silently falling back to Bearer.
 */
function xAuthorization(cfg: z.output<typeof xConfigSchema>, provider: (() => Promise<string>) | undefined): { authorize: Authorize; secrets: () => Promise<string[]> } {
  if (provider) {
    let last = '';
    return {
      authorize: async () => {
        last = await tokenFrom(provider);
        return `Bearer ${last}`;
      },
      secrets: async () => [last],
    };
  }
  const oauthFields = ['api_key', 'api_secret', 'access_token_secret'] as const;
  const present = oauthFields.filter((field) => cfg[field] !== undefined);
  if (present.length > 0) {
    const missing = [...oauthFields, 'access_token' as const].filter((field) => cfg[field] === undefined);
    if (missing.length > 0) throw new Error(`Invalid twitter configuration: ${missing.map((field) => `${field}: required for OAuth 1.0a`).join('; ')}`);
    const oauth = new OAuth({
      consumer: { key: cfg.api_key as string, secret: cfg.api_secret as string },
      signature_method: 'HMAC-SHA1',
      hash_function: (baseString, key) => createHmac('sha1', key).update(baseString).digest('base64'),
    });
    const token = { key: cfg.access_token as string, secret: cfg.access_token_secret as string };
    return {
      authorize: async (method, url) => oauth.toHeader(oauth.authorize({ method, url }, token)).Authorization,
      secrets: async () => [token.key, token.secret, cfg.api_secret as string, cfg.api_key as string],
    };
  }
  if (cfg.access_token) {
    const bearer = cfg.access_token;
    return { authorize: async () => `Bearer ${bearer}`, secrets: async () => [bearer] };
  }
  throw new Error('Invalid twitter configuration: api_key, api_secret, access_token, access_token_secret: required (OAuth 1.0a), or access_token alone (OAuth 2.0)');
}

/** A token provider that fails (nothing stored, refresh refused) leaves us unable to authenticate: auth. */
async function tokenFrom(provider: () => Promise<string>): Promise<string> {
  try {
    return await provider();
  } catch (error) {
    if (error instanceof PlatformError) throw error;
    throw new PlatformError('twitter', 'auth', 'twitter: no access token available');
  }
}

/** X allows up to 4 photos, or 1 GIF, or 1 video: anything else is refused, so it is refused before uploading. */
function checkMediaMix(urls: string[]): void {
  const videos = urls.filter((url) => mediaKind(url) === 'video').length;
  const gifs = urls.filter((url) => /\.gif$/i.test(safePath(url))).length;
  if ((videos > 0 || gifs > 0) && urls.length > 1) throw new PlatformError('twitter', 'permanent', 'twitter: a video or a GIF must be the only media of a post');
  if (urls.length > 4) throw new PlatformError('twitter', 'permanent', 'twitter: at most 4 photos per post');
}

function safePath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/**
 * Whether a post read back from X is the one we sent. X rewrites the text it returns: every link becomes a t.co link
 * (bare domains included), a media link is appended, and &, <, > come HTML-escaped. Links are therefore left out on
 * both sides (the words around them must still match exactly).
 */
export function sameTweetText(fromX: string, sent: string): boolean {
  const unescaped = fromX.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const withoutLinks = (text: string, links: Array<{ indices: [number, number] }>) => {
    let result = text;
    for (const { indices } of [...links].sort((a, b) => b.indices[0] - a.indices[0])) result = `${result.slice(0, indices[0])} ${result.slice(indices[1])}`;
    return result.replace(/[ \t]+/g, ' ').replace(/ ?\n ?/g, '\n');
  };
  const received = withoutLinks(unescaped, twitterText.extractUrlsWithIndices(unescaped));
  const ours = withoutLinks(sent, twitterText.extractUrlsWithIndices(sent, { extractUrlsWithoutProtocol: true }));
  return sameText(received, ours);
}

/** X wants RFC 3339 without fractional seconds. */
function xTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function queryString(query: Record<string, string> | undefined): string {
  if (!query) return '';
  const pairs = Object.entries(query).map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  return pairs.length > 0 ? `?${pairs.join('&')}` : '';
}

/**
 * An X refusal as a PlatformError:
 * 429 → rate_limited, waiting until x-rate-limit-reset (or the 24-hour reset when that quota is the one spent);
 * 401 → auth; 403 "duplicate content" → duplicate; 504 on a post → unknown_outcome (the gateway gave up waiting,
 * the post may exist); other 5xx → transient; other 4xx → permanent with X's words.
 */
export function xError(status: number, data: unknown, headers: Record<string, unknown>, write: boolean, secrets: string[] = []): PlatformError {
  const body: ProblemBody = data && typeof data === 'object' ? (data as ProblemBody) : {};
  const first = body.errors?.[0];
  const words = [body.detail ?? body.title, first?.message ?? first?.detail].filter((text, index, all): text is string => !!text && all.indexOf(text) === index);
  const text = redact(words.join(' — ') || (typeof data === 'string' ? data : ''), secrets);

  let errorClass: PlatformErrorClass;
  if (status === 429) errorClass = 'rate_limited';
  else if (status === 401) errorClass = 'auth';
  else if (status === 403 && /duplicate content/i.test(text)) errorClass = 'duplicate';
  else if (status === 504 && write) errorClass = 'unknown_outcome';
  else if (status >= 500) errorClass = 'transient';
  else errorClass = 'permanent';

  const details: PlatformError['details'] = { status };
  const problemType = body.type && body.type !== 'about:blank' ? body.type.split('/').pop() : undefined;
  const platformCode = first?.code ?? problemType;
  if (platformCode !== undefined) details.platformCode = platformCode;
  if (errorClass === 'rate_limited' || errorClass === 'transient') {
    const wait = xRetryAfterMs(headers);
    if (wait !== undefined) details.retryAfterMs = wait;
  }
  return new PlatformError('twitter', errorClass, `twitter: ${status}${text ? `: ${brief(text)}` : ''}`, details);
}

/** The longest wait the headers ask for: Retry-After / x-rate-limit-reset, and any exhausted 24-hour quota's reset. */
export function xRetryAfterMs(headers: Record<string, unknown>, now = Date.now()): number | undefined {
  const waits = [retryAfterMs(headers, now)];
  for (const scope of ['user', 'app']) {
    if (header(headers, `x-${scope}-limit-24hour-remaining`) !== '0') continue;
    const reset = Number(header(headers, `x-${scope}-limit-24hour-reset`));
    if (Number.isFinite(reset) && reset > 0) waits.push(Math.max(0, reset * 1000 - now));
  }
  const known = waits.filter((wait): wait is number => wait !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

/** X does not echo credentials in errors; blanking them anyway keeps a future change of theirs out of our logs. */
function redact(text: string, secrets: string[]): string {
  return secrets.filter((secret) => secret.length >= 4).reduce((result, secret) => result.split(secret).join('[redacted]'), text);
}
