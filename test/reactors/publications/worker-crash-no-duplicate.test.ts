import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresClient } from '../../../src/infrastructure/database/postgres-client.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import { startGraphApiDouble, type GraphApiDouble } from '../../doubles/graph-api-double.js';
import { databaseUrl, natsUrl, type TestDatabase } from '../../support/databases.js';
import { startTestApp, testEncryptionKey, type RunningApp } from '../../support/test-app.js';

/**
 * Duplicate posts are the top complaint about social schedulers. Here a worker process is killed (SIGKILL) after the
 * platform made the post but before the worker heard back: the post exists, the result is not recorded. The next
 * worker gets the job again from JetStream and, once the dead attempt's deadline has passed (so that a live one could
 * no longer post), asks the platform, finds the post and records it — and posts nothing.
 * Real PostgreSQL, real NATS JetStream, real worker processes, the Facebook connector against the Graph API double.
 */
describe.skipIf(!databaseUrl || !natsUrl)('a worker killed between the platform call and the recorded result', () => {
  const id = randomBytes(5).toString('hex');
  const dbName = `comm_crash_${id}`;
  const stream = `TEST_CRASH_${id}`;
  const prefix = `test.crash.${id}`;
  const token = 'EAAG-crash-test-token';
  let dbUrl: string;
  let configDir: string;
  let graph: GraphApiDouble;
  let t: RunningApp;
  const workers: ChildProcess[] = [];
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(databaseUrl!);
    url.pathname = `/${dbName}`;
    dbUrl = url.toString();

    graph = await startGraphApiDouble({ pageId: '1001', igUserId: '1002', accessTokens: [token] });
    configDir = await mkdtemp(join(tmpdir(), 'comm-crash-'));
    await mkdir(join(configDir, 'templates'));
    const platforms = { facebook: { page_id: '1001', access_token: token, base_url: graph.url, api_version: 'v18.0' } };
    await writeFile(join(configDir, 'platforms.json'), JSON.stringify(platforms));

    // API and projector in this process; scheduler and worker in child processes that can be killed.
    let client: SqlClient | undefined;
    database = {
      name: 'postgres',
      create: async () => (client = await createPostgresClient({ connectionString: dbUrl })),
      cleanup: async () => client?.close(),
    };
    t = await startTestApp(database, {
      worker: false,
      platforms,
      // The integration events this process publishes (it runs the projector) go to the run's own stream as well.
      env: { NATS_URL: natsUrl!, COMM_NATS_STREAM: stream, COMM_NATS_SUBJECT_PREFIX: prefix, COMM_EVENTS_STREAM: `${stream}_EVENTS`, COMM_EVENTS_SUBJECT_PREFIX: `test.crash-events.${id}` },
    });
  }, 60_000);

  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await t?.close();
    await database?.cleanup();
    await graph?.close();
    const nc = await connect({ servers: natsUrl });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
    for (const suffix of ['_EVENTS', '_CRM', '_CENTRAL']) await jsm.streams.delete(`${stream}${suffix}`).catch(() => undefined);
    await nc.close();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await rm(configDir, { recursive: true, force: true });
  }, 60_000);

  const startWorker = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        COMM_ROLES: 'worker',
        DATABASE_URL: dbUrl,
        NATS_URL: natsUrl,
        COMM_NATS_STREAM: stream,
        COMM_NATS_SUBJECT_PREFIX: prefix,
        EVENTSTORE_URL: '',
        PORT: '0',
        HOST: '127.0.0.1',
        COMM_CONFIG_DIR: configDir,
        COMM_DATA_DIR: await mkdtemp(join(tmpdir(), 'comm-crash-data-')),
        COMM_ADMIN_API_KEY: t.adminKey,
        COMM_JOB_ACK_WAIT_MS: '2000',
        // The shortest allowed: the dead attempt is looked for 10 + 30 s after it started.
        COMM_PUBLISH_ATTEMPT_DEADLINE_MS: '10000',
        // The same key as the API process: they share the token vault.
        COMM_ENCRYPTION_KEY: testEncryptionKey,
        COMM_EVENTS_STREAM: `${stream}_EVENTS`,
        COMM_EVENTS_SUBJECT_PREFIX: `test.crash-events.${id}`,
        // A worker also follows the CRM's and the central server's events: on streams of the run, deleted afterwards.
        COMM_CRM_STREAM: `${stream}_CRM`,
        COMM_CRM_SUBJECT_PREFIX: `test.crash-crm.${id}`,
        COMM_CENTRAL_STREAM: `${stream}_CENTRAL`,
        COMM_CENTRAL_SUBJECT_PREFIX: `test.crash-central.${id}`,
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workers.push(child);
    return child;
  };

  const until = async <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  it('records the post the dead worker made, and posts it only once', async () => {
    // The platform records the post and never answers: the worker is left waiting, as if the answer were lost.
    graph.fail({ kind: 'late-answer' }, { times: 1 });
    const first = await startWorker();

    const response = await t.call('POST', '/api/communication/publish', {
      body: { content: { title: '', body: 'Ce soir au Vieux Moulin : moules-frites et concert acoustique.', hashtags: ['vensac'] }, platforms: ['facebook'] },
    });
    expect(response.status).toBe(202);
    const publicationId: string = response.body.publication_id;

    await until('the post to reach the platform', () => (graph.posts.length === 1 ? true : undefined));
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    const streamId = `publication-${publicationId}`;
    const started = await t.app.store.readStream(streamId);
    expect(started.map((e) => e.type)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted']);

    await startWorker();
    const events = await until(
      'the recovered result',
      async () => {
        const all = await t.app.store.readStream(streamId);
        return all.some((e) => e.type === 'PlatformPublished') ? all : undefined;
      },
      90_000,
    );

    expect(graph.posts).toHaveLength(1);
    expect(events.map((e) => e.type)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted', 'PlatformPublished']);
    const published = events[2]!.data as { post_id: string; attempt_id: string };
    const start = events[1]!.data as { attempt_id: string };
    expect(published.post_id).toBe(graph.posts[0]!.id);
    // The dead worker's attempt is the one completed: no second attempt was ever started.
    expect(published.attempt_id).toBe(start.attempt_id);
    const feedCalls = graph.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/feed'));
    expect(feedCalls).toHaveLength(1);
  }, 150_000);
});
