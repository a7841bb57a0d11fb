import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/infrastructure/config/env.js';
import { createSendGridProvider } from '../../../../src/platforms/notifications/email/sendgrid.js';
import { ProviderError, type OutgoingMessage } from '../../../../src/platforms/notifications/provider.js';
import { startPrism, type PrismMock } from '../../../support/prism.js';

/**
 * SendGrid connector against Prism serving SendGrid's own OpenAPI file (it refuses any request that breaks the
 * schema, with an sl-violations header), seen through a recording proxy so each test also checks what reached it;
 * error mapping against small local servers answering as SendGrid does.
 */

const API_KEY = 'SG.test-key.do-not-leak-0123456789';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
  status?: number;
  violations?: string | undefined;
}

interface LocalServer {
  url: string;
  requests: Recorded[];
  stop(): Promise<void>;
}

/** A node:http server that records each request and lets `respond` answer it. */
async function startServer(respond: (req: Recorded, res: ServerResponse) => void | Promise<void>): Promise<LocalServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body ? JSON.parse(body) : undefined;
      } catch {
        json = undefined;
      }
      const recorded: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json };
      requests.push(recorded);
      void Promise.resolve(respond(recorded, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Forwards to Prism and records Prism's verdict (status, sl-violations) next to the request. */
function proxyTo(target: string) {
  return async (req: Recorded, res: ServerResponse): Promise<void> => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers[name] = value;
    }
    const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, ...(req.body ? { body: req.body } : {}) });
    req.status = answer.status;
    req.violations = answer.headers.get('sl-violations') ?? undefined;
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!['content-length', 'connection', 'keep-alive', 'transfer-encoding'].includes(name)) out[name] = value;
    });
    res.writeHead(answer.status, out);
    res.end(Buffer.from(await answer.arrayBuffer()));
  };
}

function message(overrides: Partial<OutgoingMessage> = {}, email: Partial<NonNullable<OutgoingMessage['email']>> = {}): OutgoingMessage {
  return {
    notificationId: 'ntf_01HZX4S1',
    channel: 'email',
    recipient: 'claire.martin@example.fr',
    email: {
      subject: 'Menu de la Saint-Valentin au Vieux Moulin',
      text: 'Bonjour Claire, notre menu du 14 février est en ligne.',
      html: '<p>Bonjour Claire, notre <strong>menu du 14 février</strong> est en ligne.</p>',
      headers: {
        'List-Unsubscribe': '<https://levieuxmoulin.fr/u/tok_claire>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
      ...email,
    },
    ...overrides,
  };
}

const config = (baseUrl: string) => ({
  provider: 'sendgrid' as const,
  api_key: API_KEY,
  from_email: 'restaurant@levieuxmoulin.fr',
  from_name: 'Le Vieux Moulin',
  base_url: baseUrl,
});

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  // Never a secret in what the worker logs.
  expect(providerError.message).not.toContain(API_KEY);
  expect(JSON.stringify(providerError.details)).not.toContain(API_KEY);
  expect((providerError as { cause?: unknown }).cause).toBeUndefined();
  return providerError;
}

describe('SendGrid provider against the SendGrid contract (Prism)', () => {
  let prism: PrismMock;
  let proxy: LocalServer;

  beforeAll(async () => {
    prism = await startPrism('sendgrid-mail-v3.openapi.json');
    proxy = await startServer(proxyTo(prism.url));
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await prism?.stop();
  });

  it('sends a request SendGrid’s schema accepts, carrying recipient, both parts, notification id and List-Unsubscribe', async () => {
    const provider = createSendGridProvider(config(proxy.url));
    const before = proxy.requests.length;
    const result = await provider.send(message());

    const request = proxy.requests[before] as Recorded;
    expect(request.status).toBe(202);
    expect(request.violations).toBeUndefined();
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v3/mail/send');
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(request.json).toEqual({
      personalizations: [
        {
          to: [{ email: 'claire.martin@example.fr' }],
          custom_args: { notification_id: 'ntf_01HZX4S1' },
          headers: {
            'List-Unsubscribe': '<https://levieuxmoulin.fr/u/tok_claire>',
            'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          },
        },
      ],
      from: { email: 'restaurant@levieuxmoulin.fr', name: 'Le Vieux Moulin' },
      subject: 'Menu de la Saint-Valentin au Vieux Moulin',
      content: [
        { type: 'text/plain', value: 'Bonjour Claire, notre menu du 14 février est en ligne.' },
        { type: 'text/html', value: '<p>Bonjour Claire, notre <strong>menu du 14 février</strong> est en ligne.</p>' },
      ],
    });
    // Prism sends no X-Message-Id: the connector falls back to its synthetic id.
    expect(result).toEqual({ provider: 'sendgrid', providerMessageId: 'sendgrid:ntf_01HZX4S1' });
  });

  it('sends a text-only message without an empty HTML part (SendGrid refuses empty content values)', async () => {
    const provider = createSendGridProvider(config(proxy.url));
    const before = proxy.requests.length;
    await provider.send(message({}, { html: '', headers: {} }));
    const request = proxy.requests[before] as Recorded;
    expect(request.status).toBe(202);
    expect(request.violations).toBeUndefined();
    const body = request.json as { content: unknown[]; personalizations: Record<string, unknown>[] };
    expect(body.content).toEqual([{ type: 'text/plain', value: 'Bonjour Claire, notre menu du 14 février est en ligne.' }]);
    expect(body.personalizations[0]).not.toHaveProperty('headers');
  });

  it('maps a request the contract refuses (invalid address) to a permanent error', async () => {
    const provider = createSendGridProvider(config(proxy.url));
    const before = proxy.requests.length;
    const error = await failure(provider.send(message({ recipient: 'pas-une-adresse' })));
    expect(proxy.requests[before]?.violations).toContain('must match format');
    expect(error.errorClass).toBe('permanent');
    expect(error.details.status).toBe(400);
    expect(error.retryable).toBe(false);
  });

  it('sends a batch as one request with one personalization per message', async () => {
    const provider = createSendGridProvider(config(proxy.url));
    const recipients = ['claire.martin@example.fr', 'paul.durand@example.fr', 'lea.bernard@example.fr'];
    const batch = recipients.map((recipient, i) =>
      message({ notificationId: `ntf_batch_${i}`, recipient }, { headers: { 'List-Unsubscribe': `<https://levieuxmoulin.fr/u/tok_${i}>` } }),
    );
    const before = proxy.requests.length;
    const results = await provider.sendBatch(batch);

    expect(proxy.requests.length).toBe(before + 1);
    const request = proxy.requests[before] as Recorded;
    expect(request.status).toBe(202);
    expect(request.violations).toBeUndefined();
    const body = request.json as { personalizations: { to: { email: string }[]; custom_args: unknown; headers: unknown }[] };
    expect(body.personalizations).toEqual(
      recipients.map((email, i) => ({
        to: [{ email }],
        custom_args: { notification_id: `ntf_batch_${i}` },
        headers: { 'List-Unsubscribe': `<https://levieuxmoulin.fr/u/tok_${i}>` },
      })),
    );
    expect(results.map((r) => r.providerMessageId)).toEqual(['sendgrid:ntf_batch_0', 'sendgrid:ntf_batch_1', 'sendgrid:ntf_batch_2']);
  });

  it('sends messages of different content in one request, each personalization with its own subject, text and HTML', async () => {
    const provider = createSendGridProvider(config(proxy.url));
    const before = proxy.requests.length;
    const results = await provider.sendBatch([
      message({ notificationId: 'ntf_claire' }),
      message({ notificationId: 'ntf_paul', recipient: 'paul.durand@example.fr' }, { subject: 'Votre table est prête', text: 'Bonjour Paul', html: '<p>Bonjour Paul</p>' }),
    ]);
    expect(results).toHaveLength(2);
    expect(proxy.requests.length).toBe(before + 1);
    const request = proxy.requests[before] as Recorded;
    expect(request.status).toBe(202);
    expect(request.violations).toBeUndefined();
    const body = request.json as {
      content: { type: string; value: string }[];
      personalizations: { subject: string; substitutions: Record<string, string> }[];
    };
    // The content is the substitution tags; SendGrid puts each personalization's own parts in their place.
    const [textTag, htmlTag] = body.content.map((c) => c.value);
    expect(body.personalizations[1]!.subject).toBe('Votre table est prête');
    expect(body.personalizations[1]!.substitutions).toEqual({ [textTag!]: 'Bonjour Paul', [htmlTag!]: '<p>Bonjour Paul</p>' });
    expect(body.personalizations[0]!.substitutions[htmlTag!]).toContain('menu du 14 février');
  });

  it('refuses, before any request, a batch whose messages cannot share one (too large for substitutions)', async () => {
    const provider = createSendGridProvider(config(proxy.url));
    const before = proxy.requests.length;
    const error = await failure(
      provider.sendBatch([message(), message({ notificationId: 'ntf_other' }, { html: `<p>${'long '.repeat(3_000)}</p>` })]),
    );
    expect(error.errorClass).toBe('permanent');
    expect(error.message).toContain('ntf_other');
    expect(proxy.requests.length).toBe(before);
  });

  it('sends messages handed to send() at the same moment as one request, and fails only the one SendGrid refuses', async () => {
    const provider = createSendGridProvider(config(proxy.url));
    const before = proxy.requests.length;
    const messages = Array.from({ length: 20 }, (_, i) =>
      message({ notificationId: `ntf_together_${i}`, recipient: `client${i}@example.fr` }, { subject: `Bonjour client ${i}` }),
    );
    const results = await Promise.all(messages.map((m) => provider.send(m)));
    expect(results).toHaveLength(20);
    expect(proxy.requests.length).toBe(before + 1);
    expect((proxy.requests[before]!.json as { personalizations: unknown[] }).personalizations).toHaveLength(20);

    // One address the contract refuses: the request fails as a whole, then each goes alone and only that one fails.
    const mixed = [message({ notificationId: 'ntf_ok_1' }), message({ notificationId: 'ntf_bad', recipient: 'not-an-address' }), message({ notificationId: 'ntf_ok_2', recipient: 'paul.durand@example.fr' })];
    const outcomes = await Promise.allSettled(mixed.map((m) => provider.send(m)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((outcomes[1] as PromiseRejectedResult).reason as ProviderError).errorClass).toBe('permanent');
  });

  it('batch_size 1 sends every message on its own', async () => {
    const provider = createSendGridProvider({ ...config(proxy.url), batch_size: 1 });
    const before = proxy.requests.length;
    await Promise.all([message({ notificationId: 'ntf_a' }), message({ notificationId: 'ntf_b' })].map((m) => provider.send(m)));
    expect(proxy.requests.length).toBe(before + 2);
  });
});

describe('SendGrid provider answers and failures (local server)', () => {
  const servers: LocalServer[] = [];
  async function server(respond: (req: Recorded, res: ServerResponse) => void | Promise<void>): Promise<LocalServer> {
    const s = await startServer(respond);
    servers.push(s);
    return s;
  }
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  function answer(status: number, body?: unknown, headers: Record<string, string> = {}) {
    return (_req: Recorded, res: ServerResponse) => {
      res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
  }

  it('returns the X-Message-Id of a 202', async () => {
    const s = await server(answer(202, undefined, { 'X-Message-Id': 'W0j2iZ9zQ6KhY3x1lA' }));
    const result = await createSendGridProvider(config(`${s.url}/`)).send(message());
    expect(result).toEqual({ provider: 'sendgrid', providerMessageId: 'W0j2iZ9zQ6KhY3x1lA' });
    expect(s.requests[0]?.url).toBe('/v3/mail/send'); // trailing slash of base_url handled
  });

  it('400 → permanent, with SendGrid’s error messages', async () => {
    const s = await server(
      answer(400, {
        errors: [
          { message: 'The from address does not match a verified Sender Identity.', field: 'from', help: null },
          { message: 'Invalid type. Expected: string, given: integer.', field: null },
        ],
      }),
    );
    const error = await failure(createSendGridProvider(config(s.url)).send(message()));
    expect(error.errorClass).toBe('permanent');
    expect(error.details.status).toBe(400);
    expect(error.message).toContain('The from address does not match a verified Sender Identity. (from)');
    expect(error.message).toContain('Invalid type. Expected: string, given: integer.');
  });

  it.each([401, 403])('%i → auth', async (status) => {
    const s = await server(answer(status, { errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null }] }));
    const error = await failure(createSendGridProvider(config(s.url)).send(message()));
    expect(error.errorClass).toBe('auth');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('authorization grant is invalid');
  });

  it('413 → permanent', async () => {
    const s = await server(answer(413, { errors: [{ message: 'content too large', field: null }] }));
    const error = await failure(createSendGridProvider(config(s.url)).send(message()));
    expect(error.errorClass).toBe('permanent');
    expect(error.details.status).toBe(413);
  });

  it('429 → rate_limited, waiting until X-RateLimit-Reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 30;
    const s = await server(
      answer(429, { errors: [{ message: 'too many requests', field: null }] }, { 'X-RateLimit-Limit': '600', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(reset) }),
    );
    const error = await failure(createSendGridProvider(config(s.url)).send(message()));
    expect(error.errorClass).toBe('rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.details.retryAfterMs).toBeGreaterThan(25_000);
    expect(error.details.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('429 without X-RateLimit-Reset → rate_limited, waiting for Retry-After', async () => {
    const s = await server(answer(429, undefined, { 'Retry-After': '7' }));
    const error = await failure(createSendGridProvider(config(s.url)).send(message()));
    expect(error.errorClass).toBe('rate_limited');
    expect(error.details.retryAfterMs).toBe(7000);
  });

  it.each([500, 502, 503])('%i → transient', async (status) => {
    const s = await server(answer(status, { errors: [{ message: 'internal server error' }] }));
    const error = await failure(createSendGridProvider(config(s.url)).send(message()));
    expect(error.errorClass).toBe('transient');
    expect(error.details.status).toBe(status);
    expect(error.retryable).toBe(true);
  });

  it('a server that never answers → transient once the timeout passes', async () => {
    const s = await server(() => {
      /* hang */
    });
    const started = Date.now();
    const error = await failure(createSendGridProvider(config(s.url), { timeoutMs: 300 }).send(message()));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.errorClass).toBe('transient');
    expect(error.message).toContain('did not answer within 300 ms');
  });

  it('a server that trickles bytes forever → transient at the deadline', async () => {
    const s = await server((_req, res) => {
      res.writeHead(202);
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const error = await failure(createSendGridProvider(config(s.url), { timeoutMs: 400 }).send(message()));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.errorClass).toBe('transient');
  });

  it('a refused connection → transient', async () => {
    const s = await startServer(answer(202));
    const url = s.url;
    await s.stop();
    const error = await failure(createSendGridProvider(config(url)).send(message()));
    expect(error.errorClass).toBe('transient');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('check() calls GET /v3/scopes with the key, and maps a refusal to auth', async () => {
    const ok = await server(answer(200, { scopes: ['mail.send'] }));
    await createSendGridProvider(config(ok.url)).check?.();
    expect(ok.requests[0]).toMatchObject({ method: 'GET', url: '/v3/scopes' });
    expect(ok.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);

    const refused = await server(answer(401, { errors: [{ field: null, message: 'authorization required' }] }));
    const error = await failure(createSendGridProvider(config(refused.url)).check?.() ?? Promise.resolve());
    expect(error.errorClass).toBe('auth');
  });

  it('refuses a message that is not e-mail without calling SendGrid', async () => {
    const s = await server(answer(202));
    const provider = createSendGridProvider(config(s.url));
    expect((await failure(provider.send({ notificationId: 'n', channel: 'sms', recipient: '+33600000000', sms: 'x' }))).errorClass).toBe('permanent');
    expect((await failure(provider.send(message({ email: undefined })))).errorClass).toBe('permanent');
    expect(s.requests).toHaveLength(0);
  });

  it('rejects a bad configuration without echoing the key', () => {
    expect(() => createSendGridProvider({ ...config('http://x'), from_email: 'pas-une-adresse' })).toThrow(ConfigError);
    expect(() => createSendGridProvider({ ...config('http://x'), api_key: '' })).toThrow(/api_key/);
    try {
      createSendGridProvider({ ...config('ftp://x') });
    } catch (error) {
      expect(String(error)).toContain('base_url');
      expect(String(error)).not.toContain(API_KEY);
    }
  });
});
