import type { AxiosResponse } from 'axios';
import { z } from 'zod';
import { assertBeforePublishDeadline, mediaKind, PlatformError, type EngagementMetrics, type PlatformErrorClass, type PublishedPost, type SocialConnector, type SocialPost } from './connector.js';
import { brief, createHttpClient, parseConfig, retryAfterMs, sameText, socialTransportError, trimBaseUrl } from './http.js';
import { singleCalls, type PlatformCalls } from './platform-calls.js';

/**
 * Google Business Profile local posts (My Business API v4, still the home of localPosts), for one location.
 *
 * - publish: POST /v4/accounts/{a}/locations/{l}/localPosts {languageCode, summary, topicType, media: [{mediaFormat:
 *   PHOTO, sourceUrl}], event: {title, schedule}} → the LocalPost. Google fetches the photo itself. A post that comes
 *   back with state REJECTED exists but will never show: permanent. postId is the post's `name`, url its searchUrl.
 * - findPublished: GET .../localPosts (pageSize 100, pageToken), matched on summary and createTime.
 * - check: GET .../localPosts?pageSize=1 (the v4 location resource itself moved to the Business Information API).
 * Errors are google.rpc {error: {code, message, status}}.
 *
 * EVENT and OFFER posts need event.title and event.schedule {startDate, endDate} ({year, month, day}). The port carries
 * no dates, so the schedule runs from the day of publishing (in the location's time zone) for `schedule_days` days.
 */

export const googleBusinessDefaultBaseUrl = 'https://mybusiness.googleapis.com';

const googleBusinessConfigSchema = z.looseObject({
  account_id: z.string().regex(/^(accounts\/)?[^/]+$/, 'must be the account id or accounts/{id}'),
  location_id: z.string().regex(/^(accounts\/[^/]+\/)?(locations\/)?[^/]+$/, 'must be the location id or locations/{id}'),
  access_token: z.string().min(1).optional(),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  language_code: z.string().min(2).default('fr'),
  /** Length of an EVENT or OFFER post's schedule, its first day included. */
  schedule_days: z.number().int().min(1).max(365).default(7),
  time_zone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris').default('Europe/Paris'),
});

export interface GoogleBusinessConnectorOptions {
  timeoutMs?: number;
  /** When given, overrides config.access_token (the token vault plugs in here). */
  accessToken?: () => Promise<string>;
  /** How each HTTP call is made (retries, circuit breaker); default once, as it is. */
  calls?: PlatformCalls;
}

/** `since` is our clock and createTime is Google's: a few seconds of difference must not hide the post we look for. */
const clockSkewMs = 2 * 60_000;
const maxListingPages = 5;

interface LocalPost {
  name?: string;
  summary?: string;
  state?: string;
  createTime?: string;
  searchUrl?: string;
}

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string };
}

export function createGoogleBusinessConnector(config: unknown, options: GoogleBusinessConnectorOptions = {}): SocialConnector {
  const cfg = parseConfig('google_business', googleBusinessConfigSchema, config);
  const token = tokenSource(cfg.access_token, options.accessToken);
  const base = trimBaseUrl(cfg.base_url ?? googleBusinessDefaultBaseUrl);
  const account = cfg.account_id.replace(/^accounts\//, '');
  const location = cfg.location_id.replace(/^(accounts\/[^/]+\/)?(locations\/)?/, '');
  const postsPath = `/v4/accounts/${encodeURIComponent(account)}/locations/${encodeURIComponent(location)}/localPosts`;
  const http = createHttpClient(options.timeoutMs);
  const calls = options.calls ?? singleCalls;

  type Request = { params?: Record<string, string>; json?: unknown; write?: boolean };

  /** Reads may be sent again; the one POST makes the post, and is sent once. */
  function call<T>(method: 'GET' | 'POST', path: string, request: Request = {}): Promise<T> {
    return calls.run(() => callOnce<T>(method, path, request), { redoable: method === 'GET' });
  }

  async function callOnce<T>(method: 'GET' | 'POST', path: string, request: Request): Promise<T> {
    const bearer = await token();
    let response: AxiosResponse<unknown>;
    try {
      response = await http.request({
        method,
        url: `${base}${path}`,
        params: request.params,
        data: request.json,
        headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/json', ...(request.json !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      });
    } catch (error) {
      throw socialTransportError('google_business', error, request.write ?? false);
    }
    if (response.status >= 200 && response.status < 300 && response.data && typeof response.data === 'object') return response.data as T;
    if (response.status >= 200 && response.status < 300) {
      throw new PlatformError('google_business', request.write ? 'unknown_outcome' : 'transient', `google_business: ${response.status} without a readable answer`, { status: response.status });
    }
    throw googleBusinessError(response.status, response.data, response.headers as Record<string, unknown>, request.write ?? false, [bearer]);
  }

  return {
    platform: 'google_business',
    account: location,

    async publish(post: SocialPost): Promise<PublishedPost> {
      const topicType = post.topicType ?? 'STANDARD';
      const body: Record<string, unknown> = { languageCode: cfg.language_code, summary: post.text, topicType, ...mediaOf(post.mediaUrls) };
      if (topicType !== 'STANDARD') {
        if (!post.title.trim()) throw new PlatformError('google_business', 'permanent', `google_business: an ${topicType} post needs a title`);
        body.event = { title: post.title, schedule: schedule(new Date(), cfg.time_zone, cfg.schedule_days) };
      }
      assertBeforePublishDeadline('google_business', post);
      const created = await call<LocalPost>('POST', postsPath, { json: body, write: true });
      if (!created.name) throw new PlatformError('google_business', 'unknown_outcome', 'google_business: the post was accepted without a name');
      if (created.state === 'REJECTED') {
        throw new PlatformError('google_business', 'permanent', `google_business: Google rejected the post (${created.name})`, { platformCode: 'REJECTED' });
      }
      return { postId: created.name, url: created.searchUrl ?? null };
    },

    async findPublished(post: SocialPost, since: Date): Promise<PublishedPost | null> {
      const from = since.getTime() - clockSkewMs;
      let pageToken: string | undefined;
      for (let page = 0; page < maxListingPages; page++) {
        const answer = await call<{ localPosts?: LocalPost[]; nextPageToken?: string }>('GET', postsPath, {
          params: { pageSize: '100', ...(pageToken ? { pageToken } : {}) },
        });
        for (const candidate of answer.localPosts ?? []) {
          const created = Date.parse(candidate.createTime ?? '');
          // A rejected post was never shown: it does not count as published.
          if (candidate.name && candidate.state !== 'REJECTED' && created >= from && sameText(candidate.summary ?? '', post.text)) {
            return { postId: candidate.name, url: candidate.searchUrl ?? null };
          }
        }
        pageToken = answer.nextPageToken;
        if (!pageToken) break;
      }
      return null;
    },

    /**
     * Google reports no counters for a local post any more: localPosts:reportInsights belongs to the v4 insights that
     * Google's deprecation schedule sends to the Business Profile Performance API, and that API only has daily metrics
     * of the whole location (impressions, calls, website clicks...), none per post. So every counter is null.
     */
    async fetchMetrics(): Promise<EngagementMetrics> {
      return { likes: null, shares: null, comments: null, reach: null, clicks: null, impressions: null };
    },

    async check(): Promise<void> {
      await call('GET', postsPath, { params: { pageSize: '1' } });
    },
  };
}

/**
 * A local post holds one photo and no video (Google fetches sourceUrl itself). More is refused here, naming why,
 * rather than posting part of what was asked.
 */
function mediaOf(urls: string[]): { media?: Array<{ mediaFormat: 'PHOTO'; sourceUrl: string }> } {
  if (urls.some((url) => mediaKind(url) === 'video')) throw new PlatformError('google_business', 'permanent', 'google_business: local posts take photos only, no video');
  if (urls.length > 1) throw new PlatformError('google_business', 'permanent', 'google_business: a local post holds one photo');
  return urls[0] ? { media: [{ mediaFormat: 'PHOTO', sourceUrl: urls[0] }] } : {};
}

interface GoogleDate {
  year: number;
  month: number;
  day: number;
}

/** From `now`'s date in the time zone, for `days` days (both ends included). */
export function schedule(now: Date, timeZone: string, days: number): { startDate: GoogleDate; endDate: GoogleDate } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(now).map((part) => [part.type, Number(part.value)]),
  ) as Record<string, number>;
  const start = Date.UTC(parts.year as number, (parts.month as number) - 1, parts.day as number);
  const end = new Date(start + (days - 1) * 86_400_000);
  return {
    startDate: { year: parts.year as number, month: parts.month as number, day: parts.day as number },
    endDate: { year: end.getUTCFullYear(), month: end.getUTCMonth() + 1, day: end.getUTCDate() },
  };
}

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** The vault's provider when given, else the configured token; checked at construction, naming the field. */
function tokenSource(configured: string | undefined, provider: (() => Promise<string>) | undefined): () => Promise<string> {
  if (provider) {
    return async () => {
      try {
        return await provider();
      } catch (error) {
        if (error instanceof PlatformError) throw error;
        throw new PlatformError('google_business', 'auth', 'google_business: no access token available');
      }
    };
  }
  if (configured) return () => Promise.resolve(configured);
  throw new Error('Invalid google_business configuration: access_token: required when no token provider is given');
}

/**
 * A google.rpc refusal as a PlatformError: UNAUTHENTICATED / 401 and PERMISSION_DENIED / 403 → auth (a person must
 * reconnect or grant access); RESOURCE_EXHAUSTED / 429 → rate_limited; 504 on a post → unknown_outcome (the gateway
 * gave up waiting, the post may exist); other 5xx, UNAVAILABLE, INTERNAL, ABORTED → transient; the rest
 * (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION...) → permanent with Google's message.
 */
export function googleBusinessError(status: number, data: unknown, headers: Record<string, unknown>, write: boolean, secrets: string[] = []): PlatformError {
  const error = data && typeof data === 'object' ? (data as GoogleErrorBody).error : undefined;
  const rpc = typeof error?.status === 'string' ? error.status : undefined;
  let errorClass: PlatformErrorClass;
  if (rpc === 'UNAUTHENTICATED' || rpc === 'PERMISSION_DENIED' || status === 401 || status === 403) errorClass = 'auth';
  else if (rpc === 'RESOURCE_EXHAUSTED' || status === 429) errorClass = 'rate_limited';
  else if (status === 504 && write) errorClass = 'unknown_outcome';
  else if (status >= 500 || rpc === 'UNAVAILABLE' || rpc === 'INTERNAL' || rpc === 'ABORTED' || rpc === 'DEADLINE_EXCEEDED') errorClass = 'transient';
  else errorClass = 'permanent';

  const details: PlatformError['details'] = { status };
  if (rpc) details.platformCode = rpc;
  if (errorClass === 'rate_limited' || errorClass === 'transient') {
    const wait = retryAfterMs(headers);
    if (wait !== undefined) details.retryAfterMs = wait;
  }
  const text = brief(redact(error?.message ?? (typeof data === 'string' ? data : ''), secrets));
  return new PlatformError('google_business', errorClass, `google_business: ${status}${rpc ? ` ${rpc}` : ''}${text ? `: ${text}` : ''}`, details);
}

function redact(text: string, secrets: string[]): string {
  return secrets.filter((secret) => secret.length >= 4).reduce((result, secret) => result.split(secret).join('[redacted]'), text);
}
