import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/**
 * Every POST, PUT and PATCH route of the whole service, found on the running server, is sent what a careless or
 * hostile client could send: broken JSON, other content types, wrong types, 1 MB strings, 10,000 levels of nesting,
 * prototype-pollution keys, random JSON and unicode garbage, with the admin key (so that the request reaches the
 * handler). Whatever comes in: never a 5xx, every error in the catalogue's shape, Object.prototype untouched, and the
 * process still serving. A failure names the route and the input (fast-check shrinks random inputs first).
 */

interface WriteRoute {
  method: 'POST' | 'PUT' | 'PATCH';
  /** As registered, e.g. /api/communication/campaigns/:id/schedule. */
  url: string;
  /** The body's top-level fields from the OpenAPI document, to aim wrong types at fields that exist. */
  fields: string[];
}

interface Answer {
  status: number;
  body: unknown;
}

/** Random runs per route and per kind of random input; the whole file stays well under a minute. */
const numRuns = 10;
const megabyte = 1_000_000;

/** PostgreSQL when available (faster), else PGlite. */
const database = testDatabases().at(-1)!;

/**
 * The write routes as Fastify prints them: a tree whose lines are `├── segment (METHODS)`, four characters per level,
 * each segment continuing its parent's path.
 */
function writeRoutesOf(server: FastifyInstance): Omit<WriteRoute, 'fields'>[] {
  const routes: Omit<WriteRoute, 'fields'>[] = [];
  const stack: string[] = [];
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const url = `${stack.at(-1) ?? ''}${match[2]}`;
    stack.push(url);
    for (const method of (match[3] ?? '').split(', ')) {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') routes.push({ method, url });
    }
  }
  return routes;
}

function bodyFieldsOf(server: FastifyInstance, route: Omit<WriteRoute, 'fields'>): string[] {
  const document = server.swagger() as { paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: object } }> } }>> };
  const path = route.url.replace(/:(\w+)/g, '{$1}');
  const operation = document.paths?.[path]?.[route.method.toLowerCase()];
  const schema = operation?.requestBody?.content?.['application/json']?.schema;
  return Object.keys(schema?.properties ?? {});
}

/** A value for each path parameter that reaches the handler (a uuid for ids, a provider name) unless given. */
function concrete(url: string, parameter: (name: string) => string = defaultParameter): string {
  return url.replace(/:(\w+)/g, (_, name: string) => parameter(name));
}

function defaultParameter(name: string): string {
  if (name === 'provider') return 'mailjet';
  return randomUUID();
}

const protoNamesBefore = Object.getOwnPropertyNames(Object.prototype).sort();

/** `{"a":{"a":…}}` or `[[…]]`, `depth` levels, built as text (JSON.stringify itself would recurse). */
function nested(depth: number, kind: 'object' | 'array', leaf = '1'): string {
  return kind === 'object' ? `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}` : `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
}

function preview(input: unknown): string {
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : text;
}

describe('fuzzing every write route', () => {
  let t: RunningApp;
  let routes: WriteRoute[];
  const problems: string[] = [];

  beforeAll(async () => {
    // No request rate limit: thousands of requests from one key are the point here.
    t = await startTestApp(database, { env: { COMM_RATE_LIMIT_PER_MINUTE: '0' } });
    routes = writeRoutesOf(t.app.server).map((route) => ({ ...route, fields: bodyFieldsOf(t.app.server, route) }));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await database.cleanup();
  });

  async function send(method: string, path: string, body: string | Uint8Array | undefined, contentType: string | null = 'application/json'): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${t.adminKey}` };
    if (contentType !== null) headers['content-type'] = contentType;
    const response = await fetch(`${t.url}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: the shape check below says so
    }
    return { status: response.status, body: parsed };
  }

  /** What is wrong with an answer, or null: no 5xx, and every error {error, message, details[{path, message}]}. */
  function problemWith(answer: Answer): string | null {
    if (answer.status >= 500) return `answered ${answer.status}: ${preview(answer.body)}`;
    if (answer.status < 400) return null;
    const body = answer.body as { error?: unknown; message?: unknown; details?: unknown } | null;
    const shaped =
      typeof body === 'object' &&
      body !== null &&
      typeof body.error === 'string' &&
      typeof body.message === 'string' &&
      Array.isArray(body.details) &&
      body.details.every((d: { path?: unknown; message?: unknown }) => typeof d?.path === 'string' && typeof d?.message === 'string');
    return shaped ? null : `answered ${answer.status} outside the error catalogue's shape: ${preview(answer.body)}`;
  }

  async function check(route: WriteRoute, input: string | Uint8Array | undefined, contentType: string | null = 'application/json', path = concrete(route.url)) {
    const answer = await send(route.method, path, input, contentType);
    const problem = problemWith(answer);
    if (problem) problems.push(`${route.method} ${path} [${contentType ?? 'no content-type'}] ${preview(input instanceof Uint8Array ? `<${input.length} bytes>` : input)} → ${problem}`);
  }

  /** Random inputs through fast-check; a failing one is shrunk and recorded, and the next route goes on. */
  async function property<T>(route: WriteRoute, arbitrary: fc.Arbitrary<T>, run: (value: T) => Promise<Answer & { sent: string; path: string }>) {
    try {
      await fc.assert(
        fc.asyncProperty(arbitrary, async (value) => {
          const answer = await run(value);
          const problem = problemWith(answer);
          if (problem) throw new Error(problem);
        }),
        { numRuns },
      );
    } catch (error) {
      problems.push(`${route.method} ${route.url}: ${(error as Error).message.split('\n').slice(0, 6).join(' | ')}`);
    }
  }

  /** After each batch: still serving, and nothing reached Object.prototype. */
  async function stillHealthy(after: string) {
    const live = await fetch(`${t.url}/health/live`);
    expect(live.status, `GET /health/live after ${after}`).toBe(200);
    await live.body?.cancel();
    expect(Object.getOwnPropertyNames(Object.prototype).sort(), `Object.prototype after ${after}`).toEqual(protoNamesBefore);
    expect(({} as Record<string, unknown>).polluted, `Object.prototype after ${after}`).toBeUndefined();
  }

  async function forEveryRoute(what: string, batch: (route: WriteRoute) => Promise<void>) {
    for (const route of routes) {
      await batch(route);
      await stillHealthy(`${what} on ${route.method} ${route.url}`);
    }
    expect(problems, what).toEqual([]);
  }

  it('finds the write routes on the server, with their body fields', () => {
    const names = routes.map((r) => `${r.method} ${r.url}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /api/communication/campaigns',
        'PATCH /api/communication/campaigns/:id',
        'POST /api/communication/notify',
        'POST /api/communication/publish',
        'PUT /api/communication/templates/:id',
        'POST /api/communication/webhooks',
        'POST /api/communication/webhooks/inbound/:provider',
      ]),
    );
    expect(routes.find((r) => r.url === '/api/communication/campaigns' && r.method === 'POST')?.fields).toContain('name');
  });

  it('refuses malformed JSON as invalid_json', async () => {
    const malformed = ['{', '{"name":', '[1,2', '{"a":1,}', "{'a':1}", 'NaN', 'undefined', '{"a":1}}', '\u0000', '{"a":"\\u12"}', '\ufeff{}', ''];
    await forEveryRoute('malformed JSON', async (route) => {
      for (const text of malformed) await check(route, text);
    });
  });

  it('refuses other content types, or reads them as the route documents', async () => {
    const bodies: Array<[string | Uint8Array, string | null]> = [
      ['{"name":"x"}', 'text/plain'],
      ['name=x&__proto__[polluted]=yes', 'application/x-www-form-urlencoded'],
      ['--b\r\ncontent-disposition: form-data; name="name"\r\n\r\nx\r\n--b--', 'multipart/form-data; boundary=b'],
      ['<name>x</name>', 'application/xml'],
      [new Uint8Array([0xff, 0xfe, 0x00, 0x7b]), 'application/octet-stream'],
      [new TextEncoder().encode('{"name":"x"}'), null],
      ['{"name":"x"}', 'application/json; charset=utf-16'],
      ['{"name":"x"}', 'application/jsonx'],
      ['{"name":"x"}', '*/*'],
      ['{"name":"x"}', 'garbage;;;=='],
    ];
    await forEveryRoute('content types', async (route) => {
      for (const [body, type] of bodies) await check(route, body, type);
    });
  });

  it('refuses prototype-pollution keys without polluting anything', async () => {
    const poisons = ['{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}', '[{"__proto__":{"polluted":"yes"}}]'];
    await forEveryRoute('prototype pollution', async (route) => {
      for (const poison of poisons) await check(route, poison);
      for (const field of route.fields) {
        await check(route, `{"${field}":{"__proto__":{"polluted":"yes"}}}`);
        await check(route, `{"${field}":{"constructor":{"prototype":{"polluted":"yes"}}}}`);
      }
    });
  });

  it('refuses 1 MB strings, and bodies over the limit as payload_too_large', async () => {
    const ascii = 'a'.repeat(megabyte - 100);
    const accented = 'é'.repeat(megabyte / 2 - 100);
    await forEveryRoute('huge strings', async (route) => {
      const field = route.fields[0] ?? 'name';
      await check(route, JSON.stringify({ [field]: ascii }));
      await check(route, JSON.stringify({ [field]: accented }));
      await check(route, JSON.stringify(ascii));
      await check(route, JSON.stringify({ [field]: 'x'.repeat(2 * megabyte) }));
    });
  });

  it('refuses 10,000 levels of nesting', async () => {
    const depth = 10_000;
    await forEveryRoute('deep nesting', async (route) => {
      await check(route, nested(depth, 'object'));
      await check(route, nested(depth, 'array'));
      for (const field of route.fields) await check(route, `{"${field}":${nested(depth, field.length % 2 === 0 ? 'object' : 'array')}}`);
    });
  });

  it('answers random JSON values', async () => {
    await forEveryRoute('random JSON', async (route) => {
      await property(route, fc.jsonValue({ maxDepth: 4 }), async (value) => {
        const sent = JSON.stringify(value) ?? 'null';
        const path = concrete(route.url);
        return { ...(await send(route.method, path, sent)), sent, path };
      });
    });
  });

  it('answers the right fields with the wrong types', async () => {
    await forEveryRoute('wrong types', async (route) => {
      if (route.fields.length === 0) return;
      const wrong = fc.dictionary(fc.constantFrom(...route.fields), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(null), fc.double(), fc.string({ unit: 'grapheme' })), {
        minKeys: 1,
      });
      await property(route, wrong, async (value) => {
        const sent = JSON.stringify(value);
        const path = concrete(route.url);
        return { ...(await send(route.method, path, sent)), sent, path };
      });
    });
  });

  it('answers unicode garbage in the body, the fields and the path', async () => {
    const garbage = fc.string({ unit: 'binary', minLength: 1, maxLength: 200 });
    await forEveryRoute('unicode garbage', async (route) => {
      await property(route, garbage, async (text) => {
        const path = concrete(route.url);
        return { ...(await send(route.method, path, text)), sent: text, path };
      });
      await property(route, fc.tuple(fc.constantFrom(...(route.fields.length > 0 ? route.fields : ['name'])), garbage), async ([field, text]) => {
        const sent = JSON.stringify({ [field]: text });
        const path = concrete(route.url);
        return { ...(await send(route.method, path, sent)), sent, path };
      });
      if (route.url.includes(':')) {
        await property(route, garbage, async (text) => {
          const path = concrete(route.url, () => encodeURIComponent(text));
          return { ...(await send(route.method, path, '{}')), sent: '{}', path };
        });
      }
    });
  });
});
