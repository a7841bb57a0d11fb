import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { generateApiKey, type Scope } from '../../src/infrastructure/auth/api-keys.js';
import type { ConfigFiles } from '../../src/infrastructure/config/config-files.js';
import { loadEnv } from '../../src/infrastructure/config/env.js';
import { createLogger, type Logger } from '../../src/infrastructure/logging/logger.js';
import type { PublicationSchedulerOptions } from '../../src/reactors/publications/publication-scheduler.js';
import type { PublicationConnectors } from '../../src/reactors/publications/publication-worker.js';
import type { TestDatabase } from './databases.js';
import { freshKey } from './encryption-keys.js';

export interface RunningApp {
  app: App;
  url: string;
  adminKey: string;
  /** fetch against the running server, JSON in and out, with the admin key unless `key` is given. */
  call(method: string, path: string, options?: { body?: unknown; key?: string | null; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: any }> // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field;
  keyWith(scopes: Scope[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * The local doubles and receivers (loopback), and the made-up hosts the suites use in media URLs and webhook
 * registrations, which resolve to nothing: the outbound guard would refuse them all. A test may set its own.
 */
export const testOutboundAllowlist = '127.0.0.1,localhost,::1,example.com,cdn.levieuxmoulin.fr,crm.example.fr,crm.internal';

/**
 * The token vault's key of every app this test process starts: the data dir (where a key would be generated) is new
 * for each app, and an app restarted on the same database must still read what the first one encrypted.
 */
/** One key for every test app and the service processes tests start: they share token vaults. */
export const testEncryptionKey = freshKey().text;

/** The whole service on a fresh database, listening on a random port of 127.0.0.1. */
export async function startTestApp(
  database: TestDatabase,
  options: {
    api?: boolean;
    projector?: boolean;
    worker?: boolean;
    templates?: ConfigFiles['templates'];
    notifications?: ConfigFiles['notifications'];
    platforms?: ConfigFiles['platforms'];
    connectors?: PublicationConnectors;
    scheduler?: PublicationSchedulerOptions;
    env?: Record<string, string>;
    /** Where the app logs (a test that reads log lines); default silent. */
    logger?: Logger;
  } = {},
): Promise<RunningApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'comm-test-'));
  const { key: adminKey } = generateApiKey();
  const env = loadEnv({
    COMM_DATA_DIR: dataDir,
    COMM_CONFIG_DIR: join(dataDir, 'config'),
    COMM_ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'silent',
    COMM_OUTBOUND_ALLOWLIST: testOutboundAllowlist,
    COMM_ENCRYPTION_KEY: testEncryptionKey,
    // Campaigns move on their dates only in the tests that ask for it: others set up campaigns of any date.
    COMM_CAMPAIGN_CLOCK_MS: '0',
    ...options.env,
  });
  const sql = await database.create();
  const app = await createApp({
    env,
    logger: options.logger ?? createLogger('silent'),
    files: { platforms: options.platforms ?? {}, notifications: options.notifications ?? {}, templates: options.templates ?? {} },
    sql,
    api: options.api,
    projector: options.projector,
    worker: options.worker,
    connectors: options.connectors,
    scheduler: options.scheduler,
  });
  const url = (await app.start({ port: 0, host: '127.0.0.1' }))!;
  const { ApiKeyStore } = await import('../../src/infrastructure/auth/api-keys.js');
  const keys = new ApiKeyStore(app.db);

  return {
    app,
    url,
    adminKey,
    async call(method, path, { body, key = adminKey, headers = {} } = {}) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async keyWith(scopes) {
      return (await keys.create(`test ${scopes.join(' ')}`, scopes)).key;
    },
    async close() {
      await app.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function campaignBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const start = new Date(Date.now() + 24 * 3600_000);
  const end = new Date(Date.now() + 8 * 24 * 3600_000);
  return {
    name: 'Semaine de la pizza',
    description: 'Une pizza achetée, un dessert offert',
    start_date: start.toISOString(),
    end_date: end.toISOString(),
    target_audience: { segment: 'habitues', location: 'Vensac' },
    budget: 250.5,
    success_metrics: { open_rate: 0.25 },
    channels: [{ type: 'email', config: {}, content_template: 'promotional_email', schedule: { send_at: '18:00' } }],
    ...overrides,
  };
}
