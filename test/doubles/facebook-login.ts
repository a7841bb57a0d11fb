import { randomBytes } from 'node:crypto';

/**
 * Facebook Login's server side as the Graph API double serves it: the OAuth dialog (GET /{version}/dialog/oauth,
 * consenting at once with a 302 to the redirect_uri, or error=access_denied after denyNextConsent()), the code
 * exchange and the long-lived token exchange (GET or POST /{version}/oauth/access_token, with
 * grant_type=fb_exchange_token for the latter), and GET /{version}/me/accounts listing the Pages the person manages,
 * each with its Page token. Refusals are Graph errors, as Meta answers them. No refresh token exists.
 */

export interface FacebookLoginOptions {
  appId: string;
  appSecret: string;
  /** The Pages the consenting person manages: id, and the Instagram professional account linked to it, if any. */
  pages: { id: string; name: string; instagramAccountId?: string }[];
  /** Lifetime of the long-lived user token; default 5,183,944 s (about 60 days), as in Meta's example. */
  longLivedSeconds?: number;
  /** Told of every Page token issued, so that the Graph double accepts it. */
  onPageToken(token: string): void;
  onPageTokenRevoked(token: string): void;
}

export interface LoginReply {
  status: number;
  body?: unknown;
  location?: string;
  destroy?: boolean;
}

type GraphErrorBody = { error: { message: string; type: string; code: number; error_subcode?: number; fbtrace_id: string } };

const graphError = (code: number, message: string, subcode?: number): GraphErrorBody => ({
  error: { message, type: 'OAuthException', code, ...(subcode !== undefined ? { error_subcode: subcode } : {}), fbtrace_id: randomBytes(8).toString('base64url') },
});

export class FacebookLogin {
  /** Every code and token issued (short-lived, long-lived and Page tokens), in order. */
  readonly issued: string[] = [];
  /** Each request to the token endpoint: the grant, and whether the app secret travelled in the URL. */
  readonly tokenRequests: { grant: 'code' | 'fb_exchange_token'; secretInQuery: boolean; verdict: string }[] = [];
  private readonly codes = new Map<string, { redirectUri: string; used: boolean }>();
  private readonly shortLived = new Set<string>();
  private readonly longLived = new Set<string>();
  private readonly pageTokens: string[] = [];
  private denyNext = false;
  private failNext: 'server_error' | 'network' | null = null;

  constructor(private readonly options: FacebookLoginOptions) {}

  denyNextConsent(): void {
    this.denyNext = true;
  }

  failNextTokenRequest(fault: 'server_error' | 'network'): void {
    this.failNext = fault;
  }

  /** The person changed their password or removed the app: every token of the login stops working. */
  revokeAll(): void {
    this.shortLived.clear();
    this.longLived.clear();
    this.pageTokens.splice(0).forEach((token) => this.options.onPageTokenRevoked(token));
  }

  dialog(query: URLSearchParams): LoginReply {
    const redirectUri = query.get('redirect_uri');
    if (query.get('client_id') !== this.options.appId) return { status: 400, body: graphError(101, 'Error validating application. Invalid application ID.') };
    if (!redirectUri) return { status: 400, body: graphError(100, 'The parameter redirect_uri is required') };
    const back = new URL(redirectUri);
    const state = query.get('state');
    if (state) back.searchParams.set('state', state);
    if (this.denyNext) {
      this.denyNext = false;
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_reason', 'user_denied');
      back.searchParams.set('error_description', 'Permissions error.');
      return { status: 302, location: back.toString() };
    }
    const code = this.issue('AQD');
    this.codes.set(code, { redirectUri, used: false });
    back.searchParams.set('code', code);
    return { status: 302, location: back.toString() };
  }

  /** `params`: the query and form fields together; `query`: the query alone (to see secrets sent in the URL). */
  token(params: Record<string, unknown>, query: URLSearchParams): LoginReply {
    const grant = params.grant_type === 'fb_exchange_token' ? 'fb_exchange_token' : 'code';
    const record = { grant, secretInQuery: query.has('client_secret'), verdict: 'ok' } as (typeof this.tokenRequests)[number];
    this.tokenRequests.push(record);
    if (this.failNext) {
      const fault = this.failNext;
      this.failNext = null;
      record.verdict = fault;
      return fault === 'network' ? { status: 0, destroy: true } : { status: 500, body: graphError(2, 'An unexpected error has occurred. Please retry your request later.') };
    }
    const refuse = (verdict: string, body: GraphErrorBody): LoginReply => {
      record.verdict = verdict;
      return { status: 400, body };
    };
    if (params.client_id !== this.options.appId) return refuse('bad_client', graphError(101, 'Error validating application. Invalid application ID.'));
    if (params.client_secret !== this.options.appSecret) return refuse('bad_client', graphError(1, 'Error validating client secret.'));
    if (grant === 'fb_exchange_token') {
      if (!this.shortLived.has(String(params.fb_exchange_token))) return refuse('bad_token', graphError(190, 'Invalid OAuth access token - Cannot parse access token'));
      const token = this.issue('EAAG-long-');
      this.longLived.add(token);
      return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: this.options.longLivedSeconds ?? 5_183_944 } };
    }
    const pending = this.codes.get(String(params.code ?? ''));
    if (!pending) return refuse('bad_code', graphError(100, 'Invalid verification code format.', 36007));
    if (pending.used) return refuse('bad_code', graphError(100, 'This authorization code has been used.', 36009));
    if (pending.redirectUri !== params.redirect_uri) {
      return refuse('bad_code', graphError(100, 'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request', 36008));
    }
    pending.used = true;
    const token = this.issue('EAAG-short-');
    this.shortLived.add(token);
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: 5_183 } };
  }

  /** GET /me/accounts with a user token: the Pages and their tokens (fields as asked). */
  accounts(userToken: string | undefined, params: Record<string, unknown>): LoginReply {
    if (!userToken || !(this.longLived.has(userToken) || this.shortLived.has(userToken))) return { status: 400, body: graphError(190, 'Invalid OAuth access token - Cannot parse access token') };
    const fields = String(params.fields ?? 'id,name').split(',');
    const data = this.options.pages.map((page) => {
      const token = this.issue('EAAG-page-');
      this.pageTokens.push(token);
      this.options.onPageToken(token);
      return {
        id: page.id,
        name: page.name,
        ...(fields.includes('access_token') ? { access_token: token } : {}),
        ...(fields.includes('instagram_business_account') && page.instagramAccountId ? { instagram_business_account: { id: page.instagramAccountId } } : {}),
      };
    });
    const cursor = Buffer.from('0').toString('base64url');
    return { status: 200, body: { data, paging: { cursors: { before: cursor, after: cursor } } } };
  }

  private issue(prefix: string): string {
    const value = `${prefix}${randomBytes(24).toString('base64url')}`;
    this.issued.push(value);
    return value;
  }
}
