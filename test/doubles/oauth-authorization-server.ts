import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The OAuth 2.0 authorization code grant (RFC 6749) with PKCE (RFC 7636) and refresh tokens, as X, Google and LinkedIn
 * run it; each platform double mounts one on its own paths with the platform's lifetimes, token shapes and error
 * bodies. The consent screen consents at once (or refuses, after denyNextConsent()), redirecting the "browser" with
 * 302 to the redirect_uri, like the real one. Everything it issues is listed in `issued`, so a test can look for it.
 */

export interface OAuthErrorReply {
  status: number;
  body: unknown;
}

export interface AuthorizationServerOptions {
  clientId: string;
  /** None: a public client, which identifies itself with client_id in the body (and must use PKCE). */
  clientSecret?: string;
  /** How a confidential client authenticates at the token endpoint. */
  clientAuthentication: 'basic' | 'body' | 'either';
  requirePkce: boolean;
  accessTokenPrefix: string;
  refreshTokenPrefix: string;
  accessTokenLifetimeSeconds: number;
  /** When a refresh token is issued: always, when the scope has offline.access (X), or with access_type=offline (Google). */
  refreshTokens: 'always' | 'offline.access' | 'access_type=offline';
  /** X replaces the refresh token at each refresh; Google and LinkedIn keep it. */
  rotateRefreshTokens: boolean;
  /** LinkedIn's refresh tokens live a fixed time from the consent, refreshes included. */
  refreshTokenLifetimeSeconds?: number;
  /** How the answer lists the granted scopes. */
  scopeSeparator: ' ' | ',';
  /** token_type as the platform writes it. */
  tokenType: string;
  errors: {
    /** A code that is unknown, used, for another redirect_uri, or whose verifier does not match. */
    badCode: OAuthErrorReply;
    /** A refresh token that is unknown, revoked or expired. */
    deadRefreshToken: OAuthErrorReply;
    /** The client did not authenticate. */
    badClient: OAuthErrorReply;
  };
  /** Told of every access token issued, so that the API it stands beside accepts it. */
  onAccessToken(token: string): void;
  /** Told of every access token that stops working (revokeAll). */
  onAccessTokenRevoked(token: string): void;
}

export type TokenEndpointFault = 'server_error' | 'network' | 'invalid_grant';

export interface TokenReply {
  status: number;
  body: unknown;
  /** Drop the connection without an answer. */
  destroy?: boolean;
}

interface PendingCode {
  redirectUri: string;
  scopes: string[];
  challenge: string | null;
  offline: boolean;
  used: boolean;
}

interface RefreshGrant {
  scopes: string[];
  expiresAt: number | null;
  accessTokens: string[];
}

export class AuthorizationServer {
  /** Every code and token issued, in order. */
  readonly issued: string[] = [];
  /** Each token request: its grant type and how the client authenticated (never the secrets). */
  readonly tokenRequests: { grantType: string; clientAuthentication: 'basic' | 'body' | 'none'; verdict: string }[] = [];
  /** Each authorization request's parameters, as the browser brought them. */
  readonly authorizationRequests: Record<string, string>[] = [];
  private readonly codes = new Map<string, PendingCode>();
  private readonly refreshGrants = new Map<string, RefreshGrant>();
  private denyNext = false;
  private readonly faults: TokenEndpointFault[] = [];

  constructor(private readonly options: AuthorizationServerOptions) {}

  denyNextConsent(): void {
    this.denyNext = true;
  }

  /** The next token requests fail this way, in order. */
  failTokenRequests(...faults: TokenEndpointFault[]): void {
    this.faults.push(...faults);
  }

  /** The person revoked the app: every refresh token and the access tokens they gave stop working. */
  revokeAll(): void {
    for (const grant of this.refreshGrants.values()) grant.accessTokens.forEach((token) => this.options.onAccessTokenRevoked(token));
    this.refreshGrants.clear();
  }

  /** GET on the consent screen: a 302 to the redirect_uri with code and state, or error=access_denied. */
  authorize(query: URLSearchParams): { status: number; location?: string; body?: unknown } {
    this.authorizationRequests.push(Object.fromEntries(query));
    const redirectUri = query.get('redirect_uri');
    if (query.get('client_id') !== this.options.clientId || !redirectUri) return { status: 400, body: { error: 'invalid_request', error_description: 'Unknown client or missing redirect_uri' } };
    const back = new URL(redirectUri);
    const state = query.get('state');
    if (state) back.searchParams.set('state', state);
    const challenge = query.get('code_challenge');
    if (query.get('response_type') !== 'code' || (this.options.requirePkce && (!challenge || query.get('code_challenge_method') !== 'S256'))) {
      back.searchParams.set('error', 'invalid_request');
      return { status: 302, location: back.toString() };
    }
    if (this.denyNext) {
      this.denyNext = false;
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user denied the request');
      return { status: 302, location: back.toString() };
    }
    const code = this.issue('code-');
    const scopes = (query.get('scope') ?? '').split(/[\s,]+/).filter(Boolean);
    const offline = this.options.refreshTokens === 'always' || (this.options.refreshTokens === 'offline.access' ? scopes.includes('offline.access') : query.get('access_type') === 'offline');
    this.codes.set(code, { redirectUri, scopes, challenge: challenge ?? null, offline, used: false });
    back.searchParams.set('code', code);
    return { status: 302, location: back.toString() };
  }

  /** POST on the token endpoint, form-encoded. */
  token(form: URLSearchParams, authorization: string | undefined): TokenReply {
    const grantType = form.get('grant_type') ?? '';
    const record = { grantType, clientAuthentication: authorization?.startsWith('Basic ') ? ('basic' as const) : form.has('client_secret') ? ('body' as const) : ('none' as const), verdict: 'ok' };
    this.tokenRequests.push(record);
    const fault = this.faults.shift();
    if (fault === 'network') {
      record.verdict = 'network';
      return { status: 0, body: null, destroy: true };
    }
    if (fault === 'server_error') {
      record.verdict = 'server_error';
      return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable' } };
    }
    if (!this.clientAuthenticated(form, authorization)) {
      record.verdict = 'bad_client';
      return { ...this.options.errors.badClient };
    }
    if (fault === 'invalid_grant' || (grantType === 'refresh_token' && !this.refreshGrants.has(form.get('refresh_token') ?? ''))) {
      record.verdict = 'dead_refresh_token';
      return { ...this.options.errors.deadRefreshToken };
    }
    if (grantType === 'authorization_code') return this.exchangeCode(form, record);
    if (grantType === 'refresh_token') return this.refresh(form.get('refresh_token')!);
    record.verdict = 'unsupported_grant_type';
    return { status: 400, body: { error: 'unsupported_grant_type' } };
  }

  private exchangeCode(form: URLSearchParams, record: { verdict: string }): TokenReply {
    const pending = this.codes.get(form.get('code') ?? '');
    const verifier = form.get('code_verifier');
    const verified = pending?.challenge ? verifier !== null && createHash('sha256').update(verifier).digest('base64url') === pending.challenge : verifier === null;
    if (!pending || pending.used || pending.redirectUri !== form.get('redirect_uri') || !verified) {
      record.verdict = 'bad_code';
      return { ...this.options.errors.badCode };
    }
    pending.used = true;
    const access = this.newAccessToken();
    const body: Record<string, unknown> = { token_type: this.options.tokenType, access_token: access, expires_in: this.options.accessTokenLifetimeSeconds, scope: pending.scopes.join(this.options.scopeSeparator) };
    if (pending.offline) {
      const refresh = this.issue(this.options.refreshTokenPrefix);
      const lifetime = this.options.refreshTokenLifetimeSeconds;
      this.refreshGrants.set(refresh, { scopes: pending.scopes, expiresAt: lifetime ? Date.now() + lifetime * 1000 : null, accessTokens: [access] });
      body.refresh_token = refresh;
      if (lifetime) body.refresh_token_expires_in = lifetime;
    }
    return { status: 200, body };
  }

  private refresh(refreshToken: string): TokenReply {
    const grant = this.refreshGrants.get(refreshToken)!;
    const access = this.newAccessToken();
    grant.accessTokens.push(access);
    const body: Record<string, unknown> = { token_type: this.options.tokenType, access_token: access, expires_in: this.options.accessTokenLifetimeSeconds, scope: grant.scopes.join(this.options.scopeSeparator) };
    if (this.options.rotateRefreshTokens) {
      const next = this.issue(this.options.refreshTokenPrefix);
      this.refreshGrants.delete(refreshToken);
      this.refreshGrants.set(next, grant);
      body.refresh_token = next;
    } else if (grant.expiresAt !== null) {
      body.refresh_token = refreshToken;
      body.refresh_token_expires_in = Math.max(0, Math.floor((grant.expiresAt - Date.now()) / 1000));
    }
    return { status: 200, body };
  }

  private clientAuthenticated(form: URLSearchParams, authorization: string | undefined): boolean {
    const { clientId, clientSecret, clientAuthentication } = this.options;
    if (clientSecret === undefined) return form.get('client_id') === clientId;
    const basic = /^Basic (.+)$/.exec(authorization ?? '')?.[1];
    if (basic && clientAuthentication !== 'body') {
      const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':').map(decodeURIComponent);
      return id === clientId && same(secret ?? '', clientSecret);
    }
    if (clientAuthentication === 'basic') return false;
    return form.get('client_id') === clientId && same(form.get('client_secret') ?? '', clientSecret);
  }

  private newAccessToken(): string {
    const token = this.issue(this.options.accessTokenPrefix);
    this.options.onAccessToken(token);
    return token;
  }

  private issue(prefix: string): string {
    const value = `${prefix}${randomBytes(24).toString('base64url')}`;
    this.issued.push(value);
    return value;
  }
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
