import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from './seeded-random.js';

/**
 * An HTTP proxy in front of a provider or platform double that fails a share of the calls, each call's fate drawn
 * from a seeded random:
 * - server_error: a 5xx in the provider's own error format, without reaching the double;
 * - rate_limited: a 429 with Retry-After and the provider's reset header, without reaching the double;
 * - lost_request: no answer at all, the double never sees the call (the caller's timeout fires);
 * - lost_answer: the double handles the call (a post is made) but the answer never comes back.
 * The other calls go through untouched. The doubles keep their own records, so the posts a platform "really" received
 * are read from them, not from here.
 */

export type FaultKind = 'server_error' | 'rate_limited' | 'lost_request' | 'lost_answer';

export interface FaultReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** How a provider words its failures, so the connectors classify them as they would the real ones. */
export interface FaultDialect {
  serverError(status: number): FaultReply;
  /** waitSeconds: relative; resetEpochSeconds: the same moment on the caller's clock. */
  rateLimited(waitSeconds: number, resetEpochSeconds: number): FaultReply;
}

export interface FaultProxyOptions {
  upstream: string;
  seed: number;
  /** Share of calls that get a fault, 0 to 1. */
  rate: number;
  dialect: FaultDialect;
  /**
   * Whether a timeout may come after the double handled the call. Off for an e-mail provider: its API has no
   * idempotency key, so a lost answer there would make duplicates by design rather than by a fault of ours.
   */
  lostAnswers: boolean;
  /** The callers' clock (epoch ms), which reset headers are read against. Default Date.now. */
  callerClock?: () => number;
}

export interface FaultProxy {
  url: string;
  counts: Record<FaultKind | 'passed' | 'upstream_error', number>;
  setRate(rate: number): void;
  close(): Promise<void>;
}

const serverErrorStatuses = [500, 502, 503];

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const random = seededRandom(options.seed);
  const callerClock = options.callerClock ?? Date.now;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const held = new Set<ServerResponse>();
  const counts: FaultProxy['counts'] = { passed: 0, server_error: 0, rate_limited: 0, lost_request: 0, lost_answer: 0, upstream_error: 0 };
  let rate = options.rate;

  const decide = (): FaultKind | 'passed' => {
    if (random() >= rate) return 'passed';
    const which = random();
    if (which < 1 / 3) return 'server_error';
    if (which < 2 / 3) return 'rate_limited';
    return options.lostAnswers && random() < 0.5 ? 'lost_answer' : 'lost_request';
  };

  const hold = (res: ServerResponse) => {
    held.add(res);
    res.on('close', () => held.delete(res));
  };

  const send = (res: ServerResponse, reply: FaultReply) => {
    if (res.destroyed || res.writableEnded) return;
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers }).end(body);
  };

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers: IncomingHttpHeaders = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      delete headers.connection;
      const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
        answer.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const fate = decide();
      counts[fate]++;
      switch (fate) {
        case 'server_error':
          return send(res, options.dialect.serverError(serverErrorStatuses[Math.floor(random() * serverErrorStatuses.length)]!));
        case 'rate_limited': {
          const wait = 1 + Math.floor(random() * 3);
          return send(res, options.dialect.rateLimited(wait, Math.ceil(callerClock() / 1000) + wait));
        }
        case 'lost_request':
          return hold(res);
        case 'lost_answer':
          hold(res);
          forward(req, body).catch(() => undefined);
          return;
        case 'passed':
          forward(req, body).then(
            (answer) => {
              if (res.destroyed || res.writableEnded) return;
              const headers = { ...answer.headers };
              delete headers['transfer-encoding'];
              delete headers.connection;
              headers['content-length'] = String(answer.body.length);
              res.writeHead(answer.status, headers).end(answer.body);
            },
            (error: unknown) => {
              counts.upstream_error++;
              send(res, { status: 502, headers: {}, body: { error: `fault proxy: upstream failed: ${String(error)}` } });
            },
          );
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    setRate(next) {
      rate = next;
    },
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** SendGrid v3: {errors: [{message}]}; its rate limit answers X-RateLimit-* with the reset as epoch seconds. */
export const sendGridDialect: FaultDialect = {
  serverError: (status) => ({ status, headers: {}, body: { errors: [{ message: 'Internal server error', field: null }] } }),
  rateLimited: (wait, reset) => ({
    status: 429,
    headers: { 'retry-after': String(wait), 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
    body: { errors: [{ message: 'too many requests', field: null }] },
  }),
};

/** Meta's Graph API: an error object with a "please retry" code; throttling code 4 with Retry-After. */
export const graphDialect: FaultDialect = {
  serverError: (status) => ({
    status,
    headers: {},
    body: { error: { message: 'An unexpected error has occurred. Please retry your request later.', type: 'OAuthException', code: 2, is_transient: true, fbtrace_id: 'faults' } },
  }),
  rateLimited: (wait) => ({
    status: 429,
    headers: { 'retry-after': String(wait) },
    body: { error: { message: '(#4) Application request limit reached', type: 'OAuthException', code: 4, is_transient: true, fbtrace_id: 'faults' } },
  }),
};

/** X API v2: problem JSON; 429 with x-rate-limit-reset (epoch seconds). */
export const xDialect: FaultDialect = {
  serverError: (status) => ({ status, headers: {}, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status } }),
  rateLimited: (_wait, reset) => ({
    status: 429,
    headers: { 'x-rate-limit-limit': '300', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) },
    body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 },
  }),
};

/** Google APIs: google.rpc errors (UNAVAILABLE, RESOURCE_EXHAUSTED). */
export const googleDialect: FaultDialect = {
  serverError: (status) => ({ status, headers: {}, body: { error: { code: status, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } } }),
  rateLimited: (wait) => ({
    status: 429,
    headers: { 'retry-after': String(wait) },
    body: { error: { code: 429, message: "Quota exceeded for quota metric 'Requests' of service 'mybusiness.googleapis.com'.", status: 'RESOURCE_EXHAUSTED' } },
  }),
};

/** LinkedIn REST: {status, message, serviceErrorCode}; throttling with Retry-After. */
export const linkedInDialect: FaultDialect = {
  serverError: (status) => ({ status, headers: {}, body: { status, message: 'Internal Server Error' } }),
  rateLimited: (wait) => ({
    status: 429,
    headers: { 'retry-after': String(wait) },
    body: { status: 429, code: 'TOO_MANY_REQUESTS', serviceErrorCode: 101, message: 'Resource level throttle APPLICATION DAY limit for calls to this resource is reached.' },
  }),
};
