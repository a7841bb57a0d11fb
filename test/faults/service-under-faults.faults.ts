import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { generateApiKey } from '../../src/infrastructure/auth/api-keys.js';
import { startGoogleBusinessDouble, type GoogleBusinessDouble } from '../doubles/google-business-double.js';
import { startGraphApiDouble, type GraphApiDouble } from '../doubles/graph-api-double.js';
import { startLinkedInDouble, type LinkedInDouble } from '../doubles/linkedin-double.js';
import { startXApiDouble, type XApiDouble } from '../doubles/x-api-double.js';
import { acceleratedNow } from './support/clock.js';
import {
  googleDialect,
  graphDialect,
  linkedInDialect,
  sendGridDialect,
  startFaultProxy,
  xDialect,
  type FaultProxy,
} from './support/fault-proxy.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';
import { freePort } from './support/ports.js';
import { compareWithRebuild, type RebuildComparison } from './support/rebuild-comparison.js';
import { startRecordingSendGrid, type RecordingSendGrid } from './support/recording-sendgrid.js';
import { seedFor } from './support/seeded-random.js';
import { ServiceProcess } from './support/service-process.js';

/**
 * The service as it runs in production — one api+projector process and two worker processes, real PostgreSQL (a
 * database of its own), a NATS JetStream server of its own — under load (10,000 e-mails, 1,000 publications on the
 * five platforms) while:
 *   a. a worker process is killed with SIGKILL three times, and started again each time;
 *   b. the NATS server is stopped and started again on the same port and store;
 *   c. every PostgreSQL connection of the service is terminated once;
 *   d. SendGrid and the platforms fail 30 % of calls (5xx, 429 with Retry-After/reset, timeouts).
 * Then: everything ends in a terminal state, nothing accepted is lost, no post is made twice, an e-mail is sent twice
 * only when the worker that sent the first copy died before recording it, and the read models equal a rebuild from
 * the events.
 *
 * The workers retry a failed platform after COMM_PUBLISH_RETRY_BACKOFF_MS (FAULTS_PUBLISH_BACKOFF_MS, 2 s) doubled
 * each time, instead of the production minute: four failures in a row would otherwise keep the suite waiting 15
 * minutes. Likewise the attempt deadline is 60 s instead of 6 min (see attemptDeadlineMs). Everything else runs on the
 * wall clock, as in production: the scheduler's re-dispatch (60 s) and stuck attempt (the attempt deadline and a
 * minute) delays, the platforms' Retry-After. FAULTS_CLOCK_RATE > 1 runs the worker processes on a faster
 * clock (support/fast-clock.ts) to stress those delays; its timers are not sped up, so waits measured on the clock
 * (Retry-After holds) then last that many times longer than they should.
 *
 * Knobs (environment): FAULTS_NOTIFICATIONS, FAULTS_PUBLICATIONS, FAULTS_RATE, FAULTS_SEED, FAULTS_CLOCK_RATE,
 * FAULTS_PUBLISH_BACKOFF_MS, FAULTS_DEADLINE_MS, FAULTS_KEEP_LOGS=1 (logs are kept anyway when the test fails),
 * NATS_SERVER_BIN.
 */

const databaseUrl = process.env.DATABASE_URL;
if (process.env.CI === 'true' && !databaseUrl) throw new Error('CI=true but DATABASE_URL is not set: the fault suite may not be skipped in CI');

const settings = {
  notifications: Number(process.env.FAULTS_NOTIFICATIONS ?? 10_000),
  publications: Number(process.env.FAULTS_PUBLICATIONS ?? 1_000),
  faultRate: Number(process.env.FAULTS_RATE ?? 0.3),
  seed: Number(process.env.FAULTS_SEED ?? 20_261_130),
  clockRate: Number(process.env.FAULTS_CLOCK_RATE ?? 1),
  /** The workers' COMM_PUBLISH_RETRY_BACKOFF_MS: retries after 2, 4, 8 and 16 s. */
  publishBackoffMs: Number(process.env.FAULTS_PUBLISH_BACKOFF_MS ?? 2_000),
  /**
   * From the moment the load is accepted and the last fault injected, to everything terminal. A job's five attempts
   * take 156 s of backoff, plus the waits for SendGrid's circuit breaker (up to 90 s a delivery) when it is open: 606 s
   * at worst. 420 s once ended a run with 13 e-mails on their fifth attempt, held by an open circuit four times.
   */
  deadlineMs: Number(process.env.FAULTS_DEADLINE_MS ?? 610_000),
  /** Shorter than the 30 s default so that the jobs of a killed worker come back quickly. */
  ackWaitMs: 5_000,
  /**
   * The workers' COMM_PUBLISH_ATTEMPT_DEADLINE_MS: the attempts a killed worker left are looked for 90 s after they
   * started (the scheduler hands them out at 120 s), not 6½–7 min; the doubles' containers need no processing time.
   * An attempt slowed past it by the faults ends without posting and is retried.
   */
  attemptDeadlineMs: 60_000,
};

type Platform = 'facebook' | 'instagram' | 'twitter' | 'google_business' | 'linkedin';
const platforms: Platform[] = ['facebook', 'instagram', 'twitter', 'google_business', 'linkedin'];
/** Publications cycle through these: several platforms per publication, so platform workers share streams. */
const platformSets: { platforms: Platform[]; image: boolean }[] = [
  { platforms: ['instagram', 'facebook'], image: true },
  { platforms: ['twitter', 'linkedin'], image: false },
  { platforms: ['google_business'], image: false },
  { platforms: ['facebook', 'twitter'], image: false },
  { platforms: ['linkedin', 'google_business'], image: false },
];
const terminalNotification = new Set(['sent', 'delivered', 'failed', 'skipped']);
const terminalPlatform = new Set(['published', 'failed']);

interface InjectedFault {
  fault: string;
  atSeconds: number;
  tookMs: number;
  detail: string;
  /** Progress when it hit: e-mails received by SendGrid, posts made. */
  emailsSoFar: number;
  postsSoFar: number;
}

describe.skipIf(!databaseUrl)('the service under faults (3 processes, real PostgreSQL and NATS)', () => {
  const runId = randomBytes(4).toString('hex');
  const dbName = `comm_faults_${runId}`;
  const token = 'faults-platform-token';
  const xToken = 'faults-x-user-token';
  const { key: adminKey } = generateApiKey();
  const unsubscribeSecret = randomBytes(24).toString('hex');
  // One key for every process: each would otherwise generate its own and refuse the secrets the others stored.
  const encryptionKey = randomBytes(32).toString('hex');
  const clockEpoch = Date.now();
  const workerNow = acceleratedNow(clockEpoch, settings.clockRate);
  let dbUrl: string;
  let workDir: string;
  let logDir: string;
  let nats: NatsServer;
  let sendgrid: RecordingSendGrid;
  let graph: GraphApiDouble;
  let x: XApiDouble;
  let gbp: GoogleBusinessDouble;
  let linkedin: LinkedInDouble;
  const proxies: Record<string, FaultProxy> = {};
  let api: ServiceProcess;
  const workers: ServiceProcess[] = [];
  let monitor: pg.Pool;
  /** Until the test has run and passed, the logs are kept for whoever investigates. */
  let keepLogs = true;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${dbName}`);
    } finally {
      await admin.end();
    }
    const url = new URL(databaseUrl!);
    url.pathname = `/${dbName}`;
    dbUrl = url.toString();
    monitor = new pg.Pool({ connectionString: dbUrl, max: 2 });
    monitor.on('error', () => undefined);

    workDir = await mkdtemp(join(tmpdir(), 'comm-faults-'));
    logDir = join(workDir, 'logs');
    await mkdir(logDir);
    await mkdir(join(workDir, 'nats'));
    nats = await startNatsServer({ storeDir: join(workDir, 'nats'), logFile: join(logDir, 'nats-server.log') });

    sendgrid = await startRecordingSendGrid();
    graph = await startGraphApiDouble({ pageId: '1001', igUserId: '1002', accessTokens: [token], containerPollsBeforeFinished: 0, publishingQuota: 10_000_000 });
    x = await startXApiDouble({ bearerToken: xToken });
    gbp = await startGoogleBusinessDouble({ accountId: 'a1', locationId: 'l1', accessToken: token });
    linkedin = await startLinkedInDouble({ organizationId: '42', accessToken: token });
    const proxy = async (name: string, upstream: string, dialect: Parameters<typeof startFaultProxy>[0]['dialect'], lostAnswers: boolean) => {
      proxies[name] = await startFaultProxy({ upstream, dialect, lostAnswers, rate: settings.faultRate, seed: seedFor(settings.seed, name), callerClock: workerNow });
      return proxies[name]!.url;
    };
    const sendgridUrl = await proxy('sendgrid', sendgrid.url, sendGridDialect, false);
    const graphUrl = await proxy('graph', graph.url, graphDialect, true);
    const xUrl = await proxy('x', x.url, xDialect, true);
    const gbpUrl = await proxy('google_business', gbp.url, googleDialect, true);
    const linkedinUrl = await proxy('linkedin', linkedin.url, linkedInDialect, true);

    const unlimited = { posts_per_24h: null };
    const platformsJson = JSON.stringify({
      facebook: { page_id: '1001', access_token: token, base_url: graphUrl, ...unlimited },
      instagram: { business_account_id: '1002', access_token: token, base_url: graphUrl, ...unlimited },
      // A user token rather than OAuth 1.0a: the double checks oauth_timestamp against the wall clock.
      twitter: { access_token: xToken, user_id: '1500000000000000001', base_url: xUrl, ...unlimited },
      google_business: { account_id: 'a1', location_id: 'l1', access_token: token, base_url: gbpUrl, ...unlimited },
      linkedin: { organization_id: '42', access_token: token, base_url: linkedinUrl, ...unlimited },
    });
    const templatesJson = JSON.stringify({
      reservation_confirmation: { subject: 'Votre table au Vieux Moulin', body_html: '<p>Bonjour {{first_name}}, votre table vous attend ce soir.</p>' },
    });
    /** A config dir per process start: each worker generation sends to SendGrid under its own path. */
    const configDir = async (label: string) => {
      const dir = join(workDir, `config-${label}`);
      await mkdir(join(dir, 'templates'), { recursive: true });
      await writeFile(join(dir, 'platforms.json'), platformsJson);
      await writeFile(join(dir, 'templates', 'faults.json'), templatesJson);
      await writeFile(
        join(dir, 'notifications.json'),
        JSON.stringify({ email: { provider: 'sendgrid', api_key: 'SG.faults-key', from_email: 'restaurant@levieuxmoulin.fr', base_url: `${sendgridUrl}/${label}`, rate_per_second: 10_000 } }),
      );
      return dir;
    };
    const common = async (label: string): Promise<Record<string, string>> => {
      const dataDir = join(workDir, `data-${label}`);
      await mkdir(dataDir, { recursive: true });
      return {
        DATABASE_URL: dbUrl,
        NATS_URL: nats.url,
        EVENTSTORE_URL: '',
        COMM_NATS_STREAM: `FAULTS_${runId}`,
        COMM_NATS_SUBJECT_PREFIX: `faults.${runId}`,
        COMM_ADMIN_API_KEY: adminKey,
        COMM_UNSUBSCRIBE_SECRET: unsubscribeSecret,
        COMM_ENCRYPTION_KEY: encryptionKey,
        COMM_DATA_DIR: dataDir,
        COMM_CONFIG_DIR: await configDir(label),
        COMM_JOB_ACK_WAIT_MS: String(settings.ackWaitMs),
        // The media of the Instagram posts: the doubles never fetch it, the service checks it is a public host.
        COMM_OUTBOUND_ALLOWLIST: 'cdn.levieuxmoulin.fr',
        // The load comes from one API key, faster than a client would.
        COMM_RATE_LIMIT_PER_MINUTE: '0',
        LOG_LEVEL: 'warn',
      };
    };

    api = new ServiceProcess({
      name: 'api',
      port: await freePort(),
      logFile: join(logDir, 'api.log'),
      env: async (generation) => ({ ...(await common(`api-g${generation}`)), COMM_ROLES: 'api,projector' }),
    });
    await api.start();
    for (const name of ['worker-1', 'worker-2']) {
      const worker = new ServiceProcess({
        name,
        port: await freePort(),
        logFile: join(logDir, `${name}.log`),
        preload: ['./test/faults/support/fast-clock.ts'],
        env: async (generation) => ({
          ...(await common(`${name}-g${generation}`)),
          COMM_ROLES: 'worker',
          COMM_PUBLISH_RETRY_BACKOFF_MS: String(settings.publishBackoffMs),
          COMM_PUBLISH_ATTEMPT_DEADLINE_MS: String(settings.attemptDeadlineMs),
          FAULTS_CLOCK_EPOCH: String(clockEpoch),
          FAULTS_CLOCK_RATE: String(settings.clockRate),
        }),
      });
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.start()));
  }, 180_000);

  afterAll(async () => {
    for (const service of [...workers, api]) await service?.close().catch(() => undefined);
    await nats?.close().catch(() => undefined);
    for (const proxy of Object.values(proxies)) await proxy.close().catch(() => undefined);
    await Promise.all([sendgrid?.close(), graph?.close(), x?.close(), gbp?.close(), linkedin?.close()].map((p) => p?.catch(() => undefined)));
    await monitor?.end().catch(() => undefined);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    if (workDir) {
      if (!keepLogs && process.env.FAULTS_KEEP_LOGS !== '1') await rm(workDir, { recursive: true, force: true });
      else console.log(`fault suite: logs kept in ${logDir}`);
    }
  }, 120_000);

  /** A read on the suite's own pool; the PostgreSQL fault drops its connections too, so a failed read is retried. */
  const query = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await monitor.query<R>(text, params)).rows;
      } catch (error) {
        if (attempt >= 10) throw error;
        await sleep(200);
      }
    }
  };

  /** An API call; a request that got no answer (the API process busy or gone) answers status 0. */
  const apiCall = async (method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    try {
      const response = await fetch(`http://127.0.0.1:${api.port}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}`, ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    } catch (error) {
      return { status: 0, body: { error: String(error) } };
    }
  };

  it('ends every notification and publication, loses nothing, posts nothing twice, and rebuilds to the same read models', async () => {
    onTestFailed(() => {
      keepLogs = true;
    });
    const started = Date.now();
    const seconds = (at: number) => Math.round((at - started) / 100) / 10;
    const postsSoFar = () => graph.posts.length + x.posts.length + gbp.posts.length + linkedin.posts.length;
    const emailsSoFar = () => [...sendgrid.receipts.values()].reduce((n, list) => n + list.length, 0);

    // --- load --------------------------------------------------------------------------------------------------
    // Requests that fail are sent again (idempotently), unless the API process is gone: that crash is then the finding.
    const submitDeadline = started + 5 * 60_000;
    const giveUp = () => !api.running || Date.now() > submitDeadline;
    const acceptedNotifications = new Set<string>();
    const rejectedNotifications: unknown[] = [];
    let notifyRetries = 0;
    const submitNotifications = async () => {
      const batch = 1_000;
      let next = 0;
      await Promise.all(
        Array.from({ length: 2 }, async () => {
          while (next < settings.notifications) {
            const from = next;
            next += batch;
            const recipients = Array.from({ length: Math.min(batch, settings.notifications - from) }, (_, i) => ({
              recipient: `client${from + i}.${runId}@example.fr`,
              data: { first_name: `Client ${from + i}` },
              // The same client_id names the same notification: a batch sent again after an error adds nothing.
              client_id: `faults-${from + i}`,
            }));
            for (;;) {
              const answer = await apiCall('POST', '/api/communication/notify', { template_id: 'reservation_confirmation', channel: 'email', recipients });
              if (answer.status === 202) {
                for (const n of answer.body.notifications as { notification_id: string | null; status: string; error?: unknown }[]) {
                  if (n.status === 'rejected' || !n.notification_id) rejectedNotifications.push(n.error);
                  else acceptedNotifications.add(n.notification_id);
                }
                break;
              }
              notifyRetries++;
              if (giveUp()) return;
              await sleep(1_000);
            }
          }
        }),
      );
    };

    const publicationIds = new Map<string, { index: number; platforms: Platform[] }>();
    const rejectedPublications: unknown[] = [];
    let publishRetries = 0;
    const submitPublications = async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < settings.publications) {
            const index = next++;
            const set = platformSets[index % platformSets.length]!;
            const id = randomUUID();
            const body = {
              id,
              content: {
                title: '',
                body: `Menu du jour au Vieux Moulin, ref ${runId}-${index}. Soupe de poisson, magret grillé, tarte aux pommes.`,
                media_urls: set.image ? [`https://cdn.levieuxmoulin.fr/menu-${index}.jpg`] : [],
                hashtags: ['vensac'],
              },
              platforms: set.platforms,
            };
            for (;;) {
              const answer = await apiCall('POST', '/api/communication/publish', body, { 'idempotency-key': id });
              // A first try that failed after writing leaves the publication there: it was accepted.
              if (answer.status === 202 || (answer.status === 409 && answer.body.error === 'publication_already_exists')) {
                publicationIds.set(id, { index, platforms: set.platforms });
                break;
              }
              if (answer.status === 422 || answer.status === 400) {
                rejectedPublications.push(answer.body);
                break;
              }
              publishRetries++;
              if (giveUp()) return;
              await sleep(1_000);
            }
          }
        }),
      );
    };

    // --- faults --------------------------------------------------------------------------------------------------
    const injected: InjectedFault[] = [];
    const kills: { label: string; at: number }[] = [];
    const listenSessions = async () =>
      Number((await query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'`, [dbName]))[0]!.n);
    const inject = async (fault: string, run: () => Promise<string>) => {
      const at = Date.now();
      const emails = emailsSoFar();
      const posts = postsSoFar();
      const detail = await run();
      injected.push({ fault, atSeconds: seconds(at), tookMs: Date.now() - at, detail, emailsSoFar: emails, postsSoFar: posts });
    };
    const killWorker = (worker: ServiceProcess) =>
      inject(`SIGKILL ${worker.name}`, async () => {
        const label = worker.label;
        // A process that died on an earlier fault stays dead: that crash is what the suite reports.
        if (!worker.running) return `not done: ${label} is not running (it exited on its own)`;
        const exit = await worker.kill('SIGKILL');
        kills.push({ label, at: exit.at });
        await worker.start();
        return `${label} killed (pid gone), ${worker.label} ready`;
      });
    const restartNats = () =>
      inject('NATS restart', async () => {
        await nats.stop();
        await sleep(1_000);
        await nats.start();
        return `stopped (SIGTERM), 1 s, started on port ${nats.port} with the same store`;
      });
    const dropConnections = () =>
      inject('PostgreSQL connections dropped', async () => {
        const before = await listenSessions();
        const admin = new pg.Client({ connectionString: dbUrl });
        await admin.connect();
        let terminated: number;
        try {
          const result = await admin.query<{ terminated: boolean }>(
            'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [dbName],
          );
          terminated = result.rows.filter((r) => r.terminated).length;
        } finally {
          await admin.end();
        }
        // The event stores' LISTEN connections were among them: are they back once the processes have reconnected?
        await sleep(10_000);
        return `${terminated} backends terminated; LISTEN sessions ${before} before, ${await listenSessions()} 10 s after`;
      });
    const schedule: { atMs: number; run: () => Promise<void> }[] = [
      { atMs: 6_000, run: () => killWorker(workers[0]!) },
      { atMs: 14_000, run: restartNats },
      { atMs: 22_000, run: () => killWorker(workers[1]!) },
      { atMs: 30_000, run: dropConnections },
      { atMs: 42_000, run: () => killWorker(workers[0]!) },
    ];
    const runFaults = async () => {
      for (const step of schedule) {
        await sleep(Math.max(0, started + step.atMs - Date.now()));
        await step.run();
      }
    };

    let submittedAt = 0;
    await Promise.all([
      Promise.all([submitNotifications(), submitPublications()]).then(() => {
        submittedAt = Date.now();
      }),
      runFaults(),
    ]);
    const faultsDoneAt = Date.now();

    // --- wait for the end ----------------------------------------------------------------------------------------
    const expectedPlatforms = [...publicationIds.values()].reduce((n, p) => n + p.platforms.length, 0);
    const progress = async () => {
      const n = await query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM notifications GROUP BY status');
      const p = await query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM publication_platforms GROUP BY status');
      const done = (rows: { status: string; n: string }[], terminal: Set<string>) => rows.filter((r) => terminal.has(r.status)).reduce((s, r) => s + Number(r.n), 0);
      return { notifications: done(n, terminalNotification), platforms: done(p, terminalPlatform) };
    };
    const deadline = faultsDoneAt + settings.deadlineMs;
    const timeline: (string | number)[][] = [];
    let notificationsDoneAt: number | undefined;
    let publicationsDoneAt: number | undefined;
    const serviceDown = () => !api.running || workers.every((w) => !w.running);
    for (let tick = 0; ; tick++) {
      const now = await progress();
      if (now.notifications >= acceptedNotifications.size) notificationsDoneAt ??= Date.now();
      if (now.platforms >= expectedPlatforms) publicationsDoneAt ??= Date.now();
      if (tick % 10 === 0) timeline.push([`${seconds(Date.now())} s`, now.notifications, now.platforms, emailsSoFar(), postsSoFar()]);
      if (notificationsDoneAt && publicationsDoneAt) break;
      // Without its projector or any worker nothing moves any more: no point waiting for the deadline.
      if (Date.now() > deadline || serviceDown()) break;
      await sleep(1_000);
    }
    const terminalAt = Date.now();
    const wentDown = serviceDown();
    // Unexpected exits are read before the workers are stopped on purpose.
    const crashes = [api, ...workers].flatMap((p) => p.exits.filter((e) => !e.expected));

    // The workers go first (they append engagement measurements); the projector then catches up with everything.
    const workerStops = await Promise.all(workers.filter((w) => w.running).map((w) => w.stop()));
    let comparison: RebuildComparison | undefined;
    let comparisonError: string | undefined;
    try {
      // Without the projector process nothing catches up: compare at once, the lag is then part of the finding.
      comparison = await compareWithRebuild(dbUrl, { ignore: { publication_schedule: ['dispatched_at'] }, catchUpMs: api.running ? 60_000 : 0 });
    } catch (error) {
      comparisonError = (error as Error).stack ?? String(error);
    }
    const finishedAt = Date.now();

    // --- gather ----------------------------------------------------------------------------------------------------
    const notificationRows = await query<{ id: string; status: string; provider_message_id: string | null; failure: { error_class?: string } | null }>(
      'SELECT id, status, provider_message_id, failure FROM notifications',
    );
    const notifications = new Map(notificationRows.map((r) => [r.id, r]));
    const eventCounts = new Map(
      (await query<{ type: string; n: string }>('SELECT type, count(*) AS n FROM es_events GROUP BY type')).map((r) => [r.type, Number(r.n)]),
    );
    const platformRows = await query<{ publication_id: string; platform: Platform; status: string; post_id: string | null; attempts: number; last_error_class: string | null }>(
      'SELECT publication_id, platform, status, post_id, attempts, last_error_class FROM publication_platforms',
    );

    // Notifications.
    const byStatus = (status: string) => notificationRows.filter((r) => r.status === status).length;
    const notTerminal = [...acceptedNotifications].filter((id) => !terminalNotification.has(notifications.get(id)?.status ?? 'missing'));
    const missing = [...acceptedNotifications].filter((id) => !notifications.has(id));
    const sentWithoutReceipt = notificationRows.filter(
      (r) => (r.status === 'sent' || r.status === 'delivered') && !(sendgrid.receipts.get(r.id) ?? []).some((rc) => rc.messageId === r.provider_message_id),
    );
    const duplicates = [...sendgrid.receipts].filter(([, list]) => list.length > 1);
    const killedAt = new Map(kills.map((k) => [k.label, k.at]));
    /** A copy is accounted for when it is the one recorded, or its worker was killed after sending it. */
    const explained = (id: string) => {
      const recorded = notifications.get(id)?.provider_message_id;
      return (sendgrid.receipts.get(id) ?? []).every((r) => r.messageId === recorded || (killedAt.get(r.sender) ?? -1) >= r.at);
    };
    const unexplained = duplicates.filter(([id]) => !explained(id));
    // Sent, but not recorded as sent: the result of the call that went through was lost.
    const receivedNotRecorded = [...sendgrid.receipts.keys()].filter((id) => {
      const status = notifications.get(id)?.status;
      return status !== 'sent' && status !== 'delivered';
    });
    const receivedNotRecordedUnexplained = receivedNotRecorded.filter((id) => !explained(id));
    const describeCopies = (id: string) =>
      `${id} recorded ${notifications.get(id)?.provider_message_id ?? notifications.get(id)?.status}: ${(sendgrid.receipts.get(id) ?? [])
        .map((r) => `${r.messageId}@${seconds(r.at)}s${killedAt.has(r.sender) ? ` (${r.sender} killed @${seconds(killedAt.get(r.sender)!)}s)` : ''}`)
        .join(', ')}`;
    const unknownReceipts = [...sendgrid.receipts.keys()].filter((id) => !acceptedNotifications.has(id));

    // Publications: the posts each platform really holds, by publication (the ref in the text) and platform.
    const refPattern = new RegExp(`ref ${runId}-(\\d+)\\b`);
    const posts = new Map<string, string[]>();
    const unknownPosts: string[] = [];
    const note = (platform: Platform, text: string, id: string) => {
      const index = refPattern.exec(text)?.[1];
      if (index === undefined) {
        unknownPosts.push(`${platform}:${id}`);
        return;
      }
      const key = `${platform}/${index}`;
      posts.set(key, [...(posts.get(key) ?? []), id]);
    };
    for (const post of graph.posts) note(post.platform, post.text, post.id);
    for (const post of x.posts) note('twitter', post.text, post.id);
    for (const post of gbp.posts) note('google_business', post.summary, post.name);
    for (const post of linkedin.posts) note('linkedin', post.commentary, post.id);
    const rowsByKey = new Map(platformRows.map((r) => [`${r.platform}/${publicationIds.get(r.publication_id)?.index ?? 'unknown'}`, r]));
    const perPlatform = platforms.map((platform) => {
      const rows = platformRows.filter((r) => r.platform === platform);
      const keys = [...posts.keys()].filter((k) => k.startsWith(`${platform}/`));
      const duplicated = keys.filter((k) => posts.get(k)!.length > 1);
      const published = rows.filter((r) => r.status === 'published');
      return {
        platform,
        expected: [...publicationIds.values()].filter((p) => p.platforms.includes(platform)).length,
        published: published.length,
        failed: rows.filter((r) => r.status === 'failed').length,
        open: rows.filter((r) => !terminalPlatform.has(r.status)).length,
        postsOnPlatform: keys.reduce((n, k) => n + posts.get(k)!.length, 0),
        duplicated,
        // Recorded as published, but the platform has no post with that id for this publication.
        lost: published.filter((r) => !(posts.get(`${platform}/${publicationIds.get(r.publication_id)?.index}`) ?? []).includes(r.post_id ?? '')),
        // The platform holds a post for it, but the publication records a failure.
        orphans: rows.filter((r) => r.status === 'failed' && (posts.get(`${platform}/${publicationIds.get(r.publication_id)?.index}`)?.length ?? 0) > 0),
        maxAttempts: Math.max(0, ...rows.map((r) => r.attempts)),
        failedBy: countBy(rows.filter((r) => r.status === 'failed').map((r) => r.last_error_class ?? 'unknown')),
      };
    });
    const platformTotal = perPlatform.reduce((n, p) => n + p.expected, 0);
    const missingPlatformRows = [...publicationIds].flatMap(([, p]) => p.platforms.filter((platform) => !rowsByKey.has(`${platform}/${p.index}`)));

    // --- print -----------------------------------------------------------------------------------------------------
    const lines: string[] = [];
    const print = (title: string, rows: (string | number)[][]) => {
      lines.push('', title, ...table(rows));
    };
    print('Run', [
      ['seed', settings.seed, 'fault rate', settings.faultRate, 'worker clock', `x${settings.clockRate}`, 'publish backoff', `${settings.publishBackoffMs} ms`],
      ['submitted at', `${seconds(submittedAt)} s`, 'faults done at', `${seconds(faultsDoneAt)} s`, 'all terminal at', `${seconds(terminalAt)} s`],
      ['finished at', `${seconds(finishedAt)} s`, 'notify retries', notifyRetries, 'publish retries', publishRetries],
    ]);
    print('Progress after the load was submitted (terminal = in the read models)', [
      ['at', 'notifications terminal', 'platform posts terminal', 'e-mails received', 'posts made'],
      ...timeline,
      ['done', notificationsDoneAt ? `${seconds(notificationsDoneAt)} s` : 'no', publicationsDoneAt ? `${seconds(publicationsDoneAt)} s` : 'no', '', ''],
    ]);
    print('Faults injected', [
      ['fault', 'at', 'took', 'e-mails / posts before', 'detail'],
      ...injected.map((f) => [f.fault, `${f.atSeconds} s`, `${f.tookMs} ms`, `${f.emailsSoFar} / ${f.postsSoFar}`, f.detail]),
    ]);
    print('Provider and platform doubles (calls through the fault proxy)', [
      ['double', 'passed', '5xx', '429', 'lost request', 'lost answer', 'faulty %'],
      ...Object.entries(proxies).map(([name, p]) => {
        const c = p.counts;
        const total = c.passed + c.server_error + c.rate_limited + c.lost_request + c.lost_answer;
        return [name, c.passed, c.server_error, c.rate_limited, c.lost_request, c.lost_answer, total ? `${Math.round(((total - c.passed) / total) * 1000) / 10} %` : '-'];
      }),
    ]);
    print('Notifications', [
      ['accepted', 'sent', 'delivered', 'failed', 'skipped', 'not terminal', 'missing'],
      [acceptedNotifications.size, byStatus('sent'), byStatus('delivered'), byStatus('failed'), byStatus('skipped'), notTerminal.length, missing.length],
      ['SendGrid copies', 'distinct ids', 'duplicated ids', 'explained by a kill', 'unexplained', 'received, not recorded sent (unexplained)', 'sent, no copy received'],
      [
        emailsSoFar(),
        sendgrid.receipts.size,
        duplicates.length,
        duplicates.length - unexplained.length,
        unexplained.length,
        `${receivedNotRecorded.length} (${receivedNotRecordedUnexplained.length})`,
        sentWithoutReceipt.length,
      ],
      ['failed by class', JSON.stringify(countBy(notificationRows.filter((r) => r.status === 'failed').map((r) => r.failure?.error_class ?? 'unknown')))],
      ...[...unexplained, ...duplicates.filter((d) => !unexplained.includes(d))].slice(0, 5).map(([id]) => [unexplained.some(([u]) => u === id) ? 'UNEXPLAINED' : 'duplicate', describeCopies(id)]),
      ...receivedNotRecordedUnexplained.slice(0, 5).map((id) => ['sent, not recorded', describeCopies(id)]),
    ]);
    print('Publications', [
      ['accepted', 'platform posts asked', 'rejected', 'PublicationScheduled events', 'unknown posts'],
      [publicationIds.size, platformTotal, rejectedPublications.length, eventCounts.get('PublicationScheduled') ?? 0, unknownPosts.length],
      ['platform', 'asked', 'published', 'failed', 'not terminal', 'posts on platform', 'duplicated', 'lost', 'failed but posted', 'max attempts', 'failed by class'],
      ...perPlatform.map((p) => [p.platform, p.expected, p.published, p.failed, p.open, p.postsOnPlatform, p.duplicated.length, p.lost.length, p.orphans.length, p.maxAttempts, JSON.stringify(p.failedBy)]),
    ]);
    if (comparison) {
      print(`Read models against a rebuild (${comparison.events} events replayed)`, [
        ['table', 'live rows', 'rebuilt rows', 'only live', 'only rebuilt'],
        ...comparison.tables.map((t) => [t.table, t.live, t.rebuilt, t.onlyLive, t.onlyRebuilt]),
        ...comparison.lagging.map((l) => [`LAGGING ${l.projection}`, l.live, l.rebuilt, '', '']),
      ]);
    }
    print('Processes', [
      ['process', 'generations', 'exits'],
      ...[api, ...workers].map((p) => [p.name, p.generation, p.exits.map((e) => `g${e.generation}:${e.signal ?? e.code}${e.expected ? '' : ' UNEXPECTED'}`).join(' ')]),
    ]);
    const openPlatforms = platformRows.filter((r) => !terminalPlatform.has(r.status)).slice(0, 5);
    const openNotifications = notTerminal.slice(0, 5);
    if (openPlatforms.length > 0 || openNotifications.length > 0) {
      const history = async (streamId: string) =>
        (await query<{ type: string; data: Record<string, unknown>; created_at: Date }>('SELECT type, data, created_at FROM es_events WHERE stream_id = $1 ORDER BY global_position', [streamId])).map(
          (e) => `${e.created_at.toISOString().slice(11, 23)} ${e.type} ${JSON.stringify(pick(e.data, ['platform', 'attempt', 'error_class', 'message', 'will_retry', 'next_attempt_at', 'post_id']))}`,
        );
      const scheduleRow = async (id: string, platform: string) =>
        JSON.stringify((await query('SELECT status, due_at, attempts, started_at, dispatched_at FROM publication_schedule WHERE publication_id = $1 AND platform = $2', [id, platform]))[0]);
      const open: (string | number)[][] = [];
      for (const row of openPlatforms) {
        open.push([`publication ${row.publication_id} ${row.platform} (${row.status})`, `schedule ${await scheduleRow(row.publication_id, row.platform)}`]);
        for (const line of await history(`publication-${row.publication_id}`)) open.push(['', line]);
      }
      for (const id of openNotifications) {
        open.push([`notification ${id} (${notifications.get(id)?.status ?? 'missing'})`, `SendGrid copies ${sendgrid.receipts.get(id)?.length ?? 0}`]);
        for (const line of await history(`notification-${id}`)) open.push(['', line]);
      }
      print('Left open (first 5 of each)', open);
    }
    console.log(lines.join('\n'));

    // --- assert ----------------------------------------------------------------------------------------------------
    const tails = () => [api, ...workers].map((p) => `--- ${p.name}\n${p.tail(40)}`).join('\n');
    expect.soft(crashes, `service processes exited on their own (a fault they did not survive):\n${tails()}`).toEqual([]);
    expect.soft(workerStops.filter((e) => !e || e.code !== 0), 'workers that did not stop cleanly on SIGTERM').toEqual([]);
    expect.soft(rejectedNotifications, 'notifications refused at request time').toEqual([]);
    expect.soft(rejectedPublications, 'publications refused at request time').toEqual([]);
    expect.soft(acceptedNotifications.size, 'every notification submitted was accepted').toBe(settings.notifications);
    expect.soft(publicationIds.size, 'every publication submitted was accepted').toBe(settings.publications);
    expect.soft(eventCounts.get('NotificationRequested') ?? 0, 'NotificationRequested events = notifications accepted').toBe(acceptedNotifications.size);
    expect.soft(eventCounts.get('PublicationScheduled') ?? 0, 'PublicationScheduled events = publications accepted').toBe(publicationIds.size);
    expect.soft(missing.length, 'accepted notifications missing from the read model').toBe(0);
    const waited = wentDown ? 'when the service went down' : `${settings.deadlineMs / 1000} s after the load and the faults`;
    expect.soft(notTerminal.length, `notifications not terminal ${waited} (e.g. ${notTerminal.slice(0, 3).join(', ')})`).toBe(0);
    // Five attempts against a provider failing 30 % of calls: a notification fails only when its every attempt did.
    // Refusals by an open circuit breaker spend no attempt; when they did, a quarter of the notifications failed here.
    if (settings.faultRate <= 0.3) {
      expect.soft(byStatus('failed'), 'notifications failed after all their attempts: at most 2 % of those accepted').toBeLessThanOrEqual(acceptedNotifications.size * 0.02);
    }
    expect.soft(missingPlatformRows.length, 'accepted publication platforms missing from the read model').toBe(0);
    for (const p of perPlatform) {
      expect.soft(p.open, `${p.platform}: publications not terminal ${waited}`).toBe(0);
      expect.soft(p.published + p.failed, `${p.platform}: terminal = asked`).toBe(p.expected);
      expect.soft(p.duplicated, `${p.platform}: the same publication posted more than once`).toEqual([]);
      expect.soft(p.lost.map((r) => r.publication_id), `${p.platform}: recorded as published, but no such post on the platform`).toEqual([]);
    }
    expect.soft(unknownPosts, 'posts that belong to no accepted publication').toEqual([]);
    expect.soft(
      unexplained.map(([id]) => describeCopies(id)),
      `e-mails sent twice without the sending worker having been killed (kills: ${kills.map((k) => `${k.label}@${seconds(k.at)}s`).join(', ')})`,
    ).toEqual([]);
    expect.soft(sentWithoutReceipt.map((r) => r.id), 'notifications recorded as sent that SendGrid never received').toEqual([]);
    expect.soft(unknownReceipts, 'e-mails for notifications nobody asked for').toEqual([]);
    expect.soft(comparisonError, 'rebuild of the read models').toBeUndefined();
    if (comparison) {
      expect.soft(comparison.lagging, 'live projections behind the events').toEqual([]);
      expect.soft(comparison.tables.filter((t) => t.onlyLive > 0 || t.onlyRebuilt > 0), 'read models that differ from a rebuild').toEqual([]);
    }
    keepLogs = false;
  }, 20 * 60_000);
});

function pick(data: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => data[key] !== undefined && data[key] !== null).map((key) => [key, data[key]]));
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function table(rows: (string | number)[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, String(cell).length)));
  return rows.map((row) => row.map((cell, i) => String(cell).padEnd(widths[i]!)).join('  ').trimEnd());
}
