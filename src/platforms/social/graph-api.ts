import { setTimeout as sleep } from 'node:timers/promises';
import type { AxiosResponse } from 'axios';
import type { Platform } from '../../domain/publication-events.js';
import { PlatformError, type PlatformErrorClass } from './connector.js';
import { brief, createHttpClient, retryAfterMs, socialTransportError, trimBaseUrl } from './http.js';
import { singleCalls, type PlatformCalls } from './platform-calls.js';

/**
 * What the Facebook Pages and Instagram connectors share: both speak Meta's Graph API on graph.facebook.com under a
 * version prefix, with the same error body, the same usage headers and the same access-token rules.
 *
 * The token travels in `Authorization: Bearer` (Graph accepts it there as well as in `access_token`), so it never sits
 * in a URL that a proxy or an error could log. Bodies are form-encoded, as in Meta's own examples.
 */

export const graphDefaultBaseUrl = 'https://graph.facebook.com';

/** Meta says to back off as usage nears 100 %; at this percentage we stop calling before the platform refuses us. */
export const usageThresholdPercent = 90;
/** How long to stay away when a usage header or a throttling code gives no time of its own. */
export const defaultBackoffMs = 5 * 60_000;
/** Waits for refusals that last longer than call-rate throttling (policy block, daily publishing limit). */
const longBackoffMs = 60 * 60_000;
/**
 * A hold this short (a throttling answer whose Retry-After is a few seconds) is waited out when an operation starts,
 * as the call that got the answer waits before trying again (call-retry.ts), rather than failing the operation. Up to
 * shortHoldTotalMs in all: a platform that keeps answering "wait" fails the operation as rate_limited.
 */
const shortHoldMs = 5_000;
const shortHoldTotalMs = 15_000;

export interface GraphErrorBody {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  error_user_title?: string;
  error_user_msg?: string;
  is_transient?: boolean;
  fbtrace_id?: string;
}

// --- Usage headers -------------------------------------------------------------------------------------------------

export interface GraphUsage {
  /** The highest percentage found in X-App-Usage, X-Page-Usage and X-Business-Use-Case-Usage. */
  maxPercent: number;
  /** From X-Business-Use-Case-Usage `estimated_time_to_regain_access` (minutes), when Meta gave one. */
  regainAccessMs?: number;
}

const usagePercentKeys = ['call_count', 'total_cputime', 'total_time'] as const;

/** Reads Meta's usage headers; undefined when the answer carried none. */
export function readGraphUsage(headers: Record<string, unknown>): GraphUsage | undefined {
  let found = false;
  let maxPercent = 0;
  let regainMinutes = 0;
  const note = (entry: unknown) => {
    if (!entry || typeof entry !== 'object') return;
    const record = entry as Record<string, unknown>;
    for (const key of usagePercentKeys) {
      const value = Number(record[key]);
      if (Number.isFinite(value)) {
        found = true;
        maxPercent = Math.max(maxPercent, value);
      }
    }
    const regain = Number(record.estimated_time_to_regain_access);
    if (Number.isFinite(regain)) {
      found = true;
      regainMinutes = Math.max(regainMinutes, regain);
    }
  };
  note(parseHeaderJson(headers['x-app-usage']));
  note(parseHeaderJson(headers['x-page-usage']));
  const buc = parseHeaderJson(headers['x-business-use-case-usage']);
  if (buc && typeof buc === 'object') {
    for (const entries of Object.values(buc as Record<string, unknown>)) {
      if (Array.isArray(entries)) entries.forEach(note);
    }
  }
  if (!found) return undefined;
  return regainMinutes > 0 ? { maxPercent, regainAccessMs: regainMinutes * 60_000 } : { maxPercent };
}

/** How long to stop calling according to the usage headers; undefined while usage is below the threshold. */
export function usageBackoffMs(headers: Record<string, unknown>): number | undefined {
  const usage = readGraphUsage(headers);
  if (!usage) return undefined;
  if (usage.regainAccessMs !== undefined) return usage.regainAccessMs;
  return usage.maxPercent >= usageThresholdPercent ? defaultBackoffMs : undefined;
}

function parseHeaderJson(value: unknown): unknown {
  if (typeof value !== 'string' || !value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

// --- Error classification ------------------------------------------------------------------------------------------

/** Call-rate throttling: application (4), user (17), page (32), custom (613), app limit (341), business use case (80001 Pages, 80002 Instagram, ...). */
const throttlingCodes = new Set([4, 17, 32, 341, 613]);
const isBusinessUseCaseThrottle = (code: number) => code >= 80_000 && code < 80_100;
/** Instagram publishing subcodes Meta documents as "try again" (server error, download timeout, media expired, not ready yet, create failed, upload error). */
const transientSubcodes = new Set([2207001, 2207003, 2207020, 2207027, 2207032, 2207053]);
const dailyPublishingLimitSubcode = 2207042;
/** "We restrict certain activity to protect our community": the content is suspected of spam; retrying will not help. */
const spamSubcode = 2207051;

interface Classification {
  errorClass: PlatformErrorClass;
  /** Wait to use when the answer's headers say nothing. */
  defaultWaitMs?: number;
}

export function classifyGraphError(status: number, error: GraphErrorBody | undefined): Classification {
  const code = error?.code;
  const subcode = error?.error_subcode;
  if (code === 190 || code === 102) return { errorClass: 'auth' };
  if (code === 10 || (code !== undefined && code >= 200 && code <= 299)) return { errorClass: 'auth' };
  if (subcode === dailyPublishingLimitSubcode) return { errorClass: 'rate_limited', defaultWaitMs: longBackoffMs };
  if (subcode === spamSubcode) return { errorClass: 'permanent' };
  if (code !== undefined && (throttlingCodes.has(code) || isBusinessUseCaseThrottle(code))) return { errorClass: 'rate_limited', defaultWaitMs: defaultBackoffMs };
  if (code === 368) return { errorClass: 'rate_limited', defaultWaitMs: longBackoffMs };
  if (code === 506) return { errorClass: 'duplicate' };
  if (subcode !== undefined && transientSubcodes.has(subcode)) return { errorClass: 'transient' };
  if (code === 1 || code === 2 || code === -1 || code === -2 || error?.is_transient === true) return { errorClass: 'transient' };
  if (status >= 500) return { errorClass: 'transient' };
  if (status === 429) return { errorClass: 'rate_limited', defaultWaitMs: defaultBackoffMs };
  if (status === 401) return { errorClass: 'auth' };
  return { errorClass: 'permanent' };
}

/**
 * A Graph refusal as a PlatformError. The message carries the platform's own words (error_user_msg when Meta wrote one
 * for people, else message) with anything that looks like one of our secrets blanked out.
 */
export function graphError(platform: Platform, status: number, data: unknown, headers: Record<string, unknown>, secrets: string[] = []): PlatformError {
  const error = graphErrorBody(data);
  const { errorClass, defaultWaitMs } = classifyGraphError(status, error);
  const details: PlatformError['details'] = { status };
  if (error?.code !== undefined) details.platformCode = error.error_subcode !== undefined ? `${error.code}/${error.error_subcode}` : error.code;
  if (errorClass === 'rate_limited') {
    details.retryAfterMs = readGraphUsage(headers)?.regainAccessMs ?? retryAfterMs(headers) ?? defaultWaitMs ?? defaultBackoffMs;
  }
  const code = error?.code !== undefined ? ` (#${error.code}${error.error_subcode !== undefined ? `/${error.error_subcode}` : ''})` : '';
  const text = brief(redact(error?.error_user_msg || error?.message || (typeof data === 'string' ? data : ''), secrets));
  return new PlatformError(platform, errorClass, `${platform}: ${status}${code}${text ? `: ${text}` : ''}`, details);
}

export function graphErrorBody(data: unknown): GraphErrorBody | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const error = (data as { error?: unknown }).error;
  return error && typeof error === 'object' ? (error as GraphErrorBody) : undefined;
}

/** Blanks out secrets a platform might echo back (Meta quotes parts of refused tokens in some messages). */
export function redact(text: string, secrets: string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result;
}

// --- Configuration -------------------------------------------------------------------------------------------------

/**
 * The token to send: the vault's provider when the caller gives one, else the config's access_token. Checked at
 * construction so a connector without any token fails at start-up, naming the field.
 */
export function accessTokenSource(platform: Platform, configured: string | undefined, provider: (() => Promise<string>) | undefined): () => Promise<string> {
  if (provider) return provider;
  if (configured) return () => Promise.resolve(configured);
  throw new Error(`Invalid ${platform} configuration: access_token: required when no token provider is given`);
}

/** The API root: the configured base URL (or graph.facebook.com) followed by the version prefix, given once. */
export function graphApiRoot(baseUrl: string | undefined, apiVersion: string): string {
  const base = trimBaseUrl(baseUrl ?? graphDefaultBaseUrl);
  return base.endsWith(`/${apiVersion}`) ? base : `${base}/${apiVersion}`;
}

/** A Graph path from node ids and edge names, each segment encoded. */
export function graphPath(...segments: string[]): string {
  return `/${segments.map(encodeURIComponent).join('/')}`;
}

// --- Calls ---------------------------------------------------------------------------------------------------------

export interface GraphClientOptions {
  platform: Platform;
  /** graphApiRoot(...): base URL with the version prefix. */
  apiRoot: string;
  accessToken: () => Promise<string>;
  timeoutMs?: number;
  /** How each call is made (retries, breaker); default once, as it is. */
  calls?: PlatformCalls;
}

export type GraphParams = Record<string, string | number | boolean>;

export interface GraphClient {
  /**
   * Throws rate_limited, without calling the platform, while a usage header past 90 % or a throttling answer told us
   * to stay away; a hold of a few seconds is waited out instead. Connectors call it when an operation starts, so an
   * operation already under way (an Instagram container being processed) is allowed to finish on the remaining
   * headroom.
   */
  ensureAvailable(): Promise<void>;
  get<T>(path: string, params?: GraphParams): Promise<T>;
  /**
   * `write` marks a call that makes something public (a feed post, a video, a media_publish): when it gets no answer
   * the post may exist, so the error is unknown_outcome rather than transient. The other POSTs (a media container, an
   * unpublished photo) make nothing public and may be sent again, like reads.
   */
  post<T>(path: string, form: GraphParams, options: { write: boolean }): Promise<T>;
}

export function createGraphClient(options: GraphClientOptions): GraphClient {
  const { platform, apiRoot } = options;
  const http = createHttpClient(options.timeoutMs);
  const calls = options.calls ?? singleCalls;
  let blockedUntil = 0;

  function holdOff(ms: number): void {
    blockedUntil = Math.max(blockedUntil, Date.now() + ms);
  }

  async function call<T>(method: 'GET' | 'POST', path: string, params: GraphParams, write: boolean): Promise<T> {
    const token = await options.accessToken();
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    const values = Object.fromEntries(Object.entries(params).map(([key, value]) => [key, String(value)]));
    let response: AxiosResponse<unknown>;
    try {
      response =
        method === 'GET'
          ? await http.get(`${apiRoot}${path}`, { headers, params: values })
          : await http.post(`${apiRoot}${path}`, new URLSearchParams(values).toString(), {
              headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
            });
    } catch (error) {
      throw socialTransportError(platform, error, write);
    }
    const responseHeaders = response.headers as Record<string, unknown>;
    const usageWait = usageBackoffMs(responseHeaders);
    if (usageWait !== undefined) holdOff(usageWait);

    const ok = response.status >= 200 && response.status < 300;
    if (ok && response.data && typeof response.data === 'object' && !graphErrorBody(response.data)) return response.data as T;
    if (ok) {
      // A success status without a readable body: a write may have gone through.
      throw new PlatformError(platform, write ? 'unknown_outcome' : 'transient', `${platform}: ${response.status} without a readable answer`, { status: response.status });
    }
    const error = graphError(platform, response.status, response.data, responseHeaders, [token]);
    if (error.errorClass === 'rate_limited' && error.details.retryAfterMs !== undefined) holdOff(error.details.retryAfterMs);
    throw error;
  }

  return {
    async ensureAvailable() {
      const started = Date.now();
      let wait = blockedUntil - started;
      while (wait > 0 && wait <= shortHoldMs && Date.now() + wait - started <= shortHoldTotalMs) {
        await sleep(wait);
        wait = blockedUntil - Date.now();
      }
      if (wait > 0) {
        throw new PlatformError(platform, 'rate_limited', `${platform}: usage limit reached, not calling for ${Math.ceil(wait / 1000)} s`, {
          platformCode: 'usage_backoff',
          retryAfterMs: wait,
        });
      }
    },
    get: (path, params = {}) => calls.run(() => call('GET', path, params, false), { redoable: true }),
    post: (path, form, { write }) => calls.run(() => call('POST', path, form, write), { redoable: !write }),
  };
}

// --- Insights ------------------------------------------------------------------------------------------------------

/**
 * The values of an /insights answer by metric name. Meta answers `values: [{value}]` (lifetime period) or, for some
 * metrics, `total_value: {value}`; a metric without data is simply absent (Meta returns an empty set, not 0).
 */
export function readInsights(data: unknown): Map<string, number> {
  const result = new Map<string, number>();
  const entries = data && typeof data === 'object' ? (data as { data?: unknown }).data : undefined;
  if (!Array.isArray(entries)) return result;
  for (const entry of entries) {
    if (!entry || typeof entry !== 'object') continue;
    const { name, values, total_value: totalValue } = entry as { name?: unknown; values?: unknown; total_value?: { value?: unknown } };
    if (typeof name !== 'string') continue;
    const last = Array.isArray(values) && values.length > 0 ? (values[values.length - 1] as { value?: unknown }).value : totalValue?.value;
    const number = typeof last === 'number' ? last : sumIfBreakdown(last);
    if (number !== undefined) result.set(name, number);
  }
  return result;
}

/** `*_by_type` metrics answer an object of counts per type: their total is what a single counter means. */
function sumIfBreakdown(value: unknown): number | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const numbers = Object.values(value as Record<string, unknown>).filter((v): v is number => typeof v === 'number');
  return numbers.length > 0 ? numbers.reduce((a, b) => a + b, 0) : undefined;
}

/** Graph timestamps look like 2019-04-05T07:56:32+0000; the offset gets its colon so every parser reads it. */
export function parseGraphTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(time) ? time : undefined;
}

/**
 * The items of a Graph listing, newest first, page after page (cursor `after`), until `keepGoing` says the last page
 * read is old enough or `maxPages` is reached: listings are bounded so a busy account cannot make a check endless.
 */
export async function readListing<T>(
  client: GraphClient,
  path: string,
  params: GraphParams,
  keepGoing: (page: T[]) => boolean,
  maxPages = 5,
): Promise<T[]> {
  const items: T[] = [];
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const answer = await client.get<{ data?: T[]; paging?: { cursors?: { after?: string }; next?: string } }>(path, after ? { ...params, after } : params);
    const data = Array.isArray(answer.data) ? answer.data : [];
    items.push(...data);
    after = answer.paging?.next ? answer.paging.cursors?.after : undefined;
    if (!after || data.length === 0 || !keepGoing(data)) break;
  }
  return items;
}
