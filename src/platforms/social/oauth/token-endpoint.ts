import axios, { type AxiosResponse } from 'axios';
import type { Platform } from '../../../domain/publication-events.js';
import { redact } from '../graph-api.js';
import { brief, createHttpClient } from '../http.js';

/**
 * The token endpoint of RFC 6749 §3.2 as the platforms run it: a form POST, the client authenticated with HTTP Basic
 * (X confidential clients) or client_id/client_secret in the body, a JSON answer. What comes back is either a token
 * set, a refusal (a 4xx with an OAuth error, or a Graph error for Meta), or "unavailable" (no answer, 5xx, 429, an
 * answer we cannot read): the refresher acts very differently on the last two.
 */

export interface TokenSet {
  accessToken: string;
  /** Seconds the access token lives; null when the platform does not say. */
  expiresIn: number | null;
  refreshToken: string | null;
  /** LinkedIn's programmatic refresh tokens have their own, fixed, lifetime. */
  refreshTokenExpiresIn: number | null;
  /** What was granted, when the answer says (space- or comma-separated by platform). */
  scopes: string[] | null;
}

/** The platform refused the request: `code` is the OAuth error (invalid_grant...) or Graph's code; no token values. */
export class OAuthRefusal extends Error {
  constructor(
    readonly platform: Platform,
    readonly code: string,
    readonly description: string,
    readonly status: number,
  ) {
    super(`${platform}: ${status} ${code}${description ? `: ${description}` : ''}`);
    this.name = 'OAuthRefusal';
  }
}

/** Nothing usable came back (network error, timeout, 5xx, 429): try again later, nothing is known about the grant. */
export class OAuthUnavailable extends Error {
  constructor(
    readonly platform: Platform,
    message: string,
  ) {
    super(message);
    this.name = 'OAuthUnavailable';
  }
}

export interface ClientCredentials {
  clientId: string;
  /** null for a public client (X without a secret: PKCE alone). */
  clientSecret: string | null;
  authentication: 'basic' | 'body';
}

export interface TokenRequest {
  platform: Platform;
  url: string;
  credentials: ClientCredentials;
  form: Record<string, string>;
  timeoutMs?: number;
}

/** Form fields whose values a platform's error text must never echo back into ours. */
const secretFields = ['code', 'code_verifier', 'refresh_token', 'fb_exchange_token', 'client_secret'];

export async function requestToken(request: TokenRequest): Promise<TokenSet> {
  const { platform, credentials } = request;
  const form = new URLSearchParams(request.form);
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  if (credentials.authentication === 'basic' && credentials.clientSecret !== null) {
    // RFC 6749 §2.3.1: each part form-encoded before they are joined.
    const pair = `${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`;
    headers.Authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  } else {
    form.set('client_id', credentials.clientId);
    if (credentials.clientSecret !== null) form.set('client_secret', credentials.clientSecret);
  }
  const secrets = [...secretFields.map((field) => request.form[field] ?? ''), credentials.clientSecret ?? ''].filter((value) => value.length >= 4);
  let response: AxiosResponse<unknown>;
  try {
    response = await createHttpClient(request.timeoutMs).post(request.url, form.toString(), { headers });
  } catch (error) {
    // Not the axios error itself: its config holds the form, i.e. the code or the refresh token.
    const code = axios.isAxiosError(error) ? error.code : (error as NodeJS.ErrnoException | undefined)?.code;
    throw new OAuthUnavailable(platform, `${platform}: the token endpoint could not be reached (${code ?? 'network error'})`);
  }
  return readTokenAnswer(platform, response, secrets);
}

/** A GET of a Graph resource with a user token (Meta: /me/accounts), with the same three outcomes. */
export async function readGraph<T>(platform: Platform, url: string, token: string, params: Record<string, string>, timeoutMs?: number): Promise<T> {
  let response: AxiosResponse<unknown>;
  try {
    response = await createHttpClient(timeoutMs).get(url, { params, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
  } catch (error) {
    const code = axios.isAxiosError(error) ? error.code : undefined;
    throw new OAuthUnavailable(platform, `${platform}: the Graph API could not be reached (${code ?? 'network error'})`);
  }
  if (response.status >= 200 && response.status < 300 && response.data && typeof response.data === 'object') return response.data as T;
  throw refusalOrUnavailable(platform, response, [token]);
}

export function readTokenAnswer(platform: Platform, response: AxiosResponse<unknown>, secrets: string[]): TokenSet {
  const body = response.data && typeof response.data === 'object' ? (response.data as Record<string, unknown>) : undefined;
  if (response.status >= 200 && response.status < 300 && body && typeof body.access_token === 'string' && body.access_token !== '') {
    return {
      accessToken: body.access_token,
      expiresIn: seconds(body.expires_in),
      refreshToken: typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : null,
      refreshTokenExpiresIn: seconds(body.refresh_token_expires_in),
      scopes: typeof body.scope === 'string' ? body.scope.split(/[\s,]+/).filter(Boolean) : null,
    };
  }
  throw refusalOrUnavailable(platform, response, secrets);
}

function refusalOrUnavailable(platform: Platform, response: AxiosResponse<unknown>, secrets: string[]): Error {
  const status = response.status;
  if (status >= 500 || status === 429 || status < 400) {
    return new OAuthUnavailable(platform, `${platform}: the token endpoint answered ${status}${status < 400 ? ' without a token' : ''}`);
  }
  const body = response.data && typeof response.data === 'object' ? (response.data as Record<string, unknown>) : {};
  const clean = (text: unknown) => brief(redact(typeof text === 'string' ? text : '', secrets), 500);
  // RFC 6749 §5.2: {"error": "invalid_grant", "error_description": "..."}.
  if (typeof body.error === 'string') return new OAuthRefusal(platform, body.error, clean(body.error_description), status);
  // Meta: {"error": {"message", "type": "OAuthException", "code", "error_subcode"}}.
  if (body.error && typeof body.error === 'object') {
    const graph = body.error as { message?: unknown; code?: unknown; error_subcode?: unknown; type?: unknown };
    const code = [graph.code, graph.error_subcode].filter((part) => typeof part === 'number').join('/') || String(graph.type ?? 'OAuthException');
    return new OAuthRefusal(platform, code, clean(graph.message), status);
  }
  return new OAuthRefusal(platform, `http_${status}`, clean(typeof response.data === 'string' ? response.data : ''), status);
}

function seconds(value: unknown): number | null {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number > 0 ? Math.floor(number) : null;
}

/**
 * Whether a refused refresh means the grant is gone for good: invalid_grant everywhere (RFC 6749 §5.2); X also answers
 * invalid_request "Value passed for the token was invalid." for a refresh token it no longer knows.
 */
export function grantIsDead(refusal: OAuthRefusal): boolean {
  if (refusal.code === 'invalid_grant') return true;
  return refusal.platform === 'twitter' && refusal.code === 'invalid_request' && /token was invalid/i.test(refusal.description);
}
