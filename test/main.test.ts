import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../src/infrastructure/auth/api-keys.js';
import { quoteIdent } from '../src/infrastructure/database/postgres-client.js';
import { startMailjetDouble, type MailjetDouble } from './doubles/mailjet-double.js';
import { databaseUrl, natsUrl } from './support/databases.js';

/**
 * The service as its own process (src/main.ts), stopped with SIGTERM while it sends notifications: it must exit with
 * code 0 and lose nothing. On PostgreSQL + NATS when both are configured, else on PGlite + the in-process bus.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const onNats = Boolean(natsUrl);

interface Child {
  url: string;
  exited: Promise<number | null>;
  logs: Record<string, unknown>[];
  process: ChildProcess;
}

/** Starts `node --import tsx src/main.ts` and waits for the line that says it listens. */
async function startService(env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    // Only what the test sets: the runner's own DATABASE_URL or NATS_URL must not leak in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // 'close' rather than 'exit': by then its output has been read to the end.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${stderr}`)), 60_000);
    void exited.then((code) => reject(new Error(`service exited with ${code} before listening:\n${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'communication module listening') {
        clearTimeout(timer);
        resolve(String(entry.address));
      }
    });
  });
  return { url, exited, logs, process: child };
}

describe('graceful shutdown of the service process', () => {
  const adminKey = generateApiKey().key;
  const id = randomBytes(5).toString('hex');
  let mailjet: MailjetDouble;
  let dataDir: string;
  let env: Record<string, string>;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    mailjet = await startMailjetDouble();
    cleanups.push(() => mailjet.stop());
    dataDir = await mkdtemp(join(tmpdir(), 'comm-shutdown-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const configDir = join(dataDir, 'config');
    await mkdir(join(configDir, 'templates'), { recursive: true });
    await writeFile(
      join(configDir, 'notifications.json'),
      JSON.stringify({
        email: { provider: 'mailjet', api_key: mailjet.apiKey, api_secret: mailjet.apiSecret, from_email: 'restaurant@levieuxmoulin.fr', base_url: mailjet.url },
      }),
    );
    await writeFile(join(configDir, 'templates', 'test.json'), JSON.stringify({ reservation_confirmation: { subject: 'Votre table', body_html: '<p>Bonjour {{first_name}}</p>' } }));
    env = {
      PORT: '0',
      HOST: '127.0.0.1',
      COMM_ROLES: 'api,projector,worker',
      COMM_ADMIN_API_KEY: adminKey,
      COMM_DATA_DIR: join(dataDir, 'data'),
      COMM_CONFIG_DIR: configDir,
      LOG_LEVEL: 'info',
      // Far beyond the test: a job handed back must come back at once, not when its ack wait runs out.
      COMM_JOB_ACK_WAIT_MS: '120000',
    };
    if (databaseUrl) {
      // A database of its own: the service works in the public schema.
      const name = `comm_shutdown_${id}`;
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
      await admin.end();
      const url = new URL(databaseUrl);
      url.pathname = `/${name}`;
      env.DATABASE_URL = url.toString();
      cleanups.push(async () => {
        const drop = new pg.Client({ connectionString: databaseUrl });
        await drop.connect();
        await drop.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
        await drop.end();
      });
    }
    if (natsUrl) {
      // Streams of its own, deleted afterwards: not the server's default ones, which a deployment may be using.
      Object.assign(env, {
        NATS_URL: natsUrl,
        COMM_NATS_STREAM: `TEST_SHUTDOWN_${id}`,
        COMM_NATS_SUBJECT_PREFIX: `shutdown${id}.jobs`,
        COMM_EVENTS_STREAM: `TEST_SHUTDOWN_${id}_EVENTS`,
        COMM_EVENTS_SUBJECT_PREFIX: `shutdown${id}.events`,
        COMM_CRM_STREAM: `TEST_SHUTDOWN_${id}_CRM`,
        COMM_CRM_SUBJECT_PREFIX: `shutdown${id}.crm`,
        COMM_CENTRAL_STREAM: `TEST_SHUTDOWN_${id}_CENTRAL`,
        COMM_CENTRAL_SUBJECT_PREFIX: `shutdown${id}.central`,
      });
      cleanups.push(async () => {
        const nc = await connect({ servers: natsUrl });
        const jsm = await jetstreamManager(nc);
        for (const suffix of ['', '_EVENTS', '_CRM', '_CENTRAL']) await jsm.streams.delete(`TEST_SHUTDOWN_${id}${suffix}`).catch(() => undefined);
        await nc.close();
      });
    }
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  const call = async (child: Child, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${child.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> & { notifications?: { notification_id: string }[] } };
  };

  it(
    `exits with 0 on SIGTERM during work, and every job ends done (${databaseUrl ? 'PostgreSQL' : 'PGlite'} + ${onNats ? 'NATS' : 'in-process bus'})`,
    async () => {
      // NATS: jobs outlast the grace period and go back to the queue. In-process: they finish within it (a job handed
      // back there would stay in memory and be lost with the process).
      const grace = onNats ? 500 : 8_000;
      const sendDelayMs = onNats ? 4_000 : 1_500;
      const first = await startService({ ...env, COMM_SHUTDOWN_GRACE_MS: String(grace) });
      try {
        const count = 6;
        mailjet.fail({ delayMs: sendDelayMs, times: count });
        const ids: string[] = [];
        for (let i = 0; i < count; i++) {
          const accepted = await call(first, 'POST', '/api/communication/notify', {
            template_id: 'reservation_confirmation', // transactional: no consent needed
            channel: 'email',
            recipient: `client${i}@example.fr`,
            data: { first_name: `Client ${i}` },
          });
          expect(accepted.status).toBe(202);
          ids.push(accepted.body.notifications![0]!.notification_id);
        }
        // Every job is in a worker's hands, waiting for the provider.
        for (let i = 0; mailjet.requests.filter((r) => r.path === '/v3.1/send').length < count; i++) {
          if (i > 500) throw new Error(`the jobs never reached the provider: ${JSON.stringify(first.logs.slice(-5))}`);
          await sleep(20);
        }

        const signalled = Date.now();
        first.process.kill('SIGTERM');
        expect(await first.exited).toBe(0);
        const shutdownMs = Date.now() - signalled;
        expect(shutdownMs).toBeLessThan(15_000);
        expect(first.logs.some((entry) => entry.msg === 'shutting down')).toBe(true);
        if (onNats) expect(shutdownMs).toBeLessThan(sendDelayMs);
        else expect(new Set(mailjet.sent.map((m) => m.customId))).toEqual(new Set(ids));

        // The next process picks up where the first stopped: what was handed back is sent now, nothing twice.
        const second = await startService(env);
        try {
          // Far sooner than the 120 s ack wait: what was handed back did not wait for it.
          const deadline = Date.now() + 20_000;
          const statuses = async () => Promise.all(ids.map(async (nid) => (await call(second, 'GET', `/api/communication/notifications/${nid}`)).body));
          let read = await statuses();
          while (read.some((n) => n.status !== 'sent') && Date.now() < deadline) {
            await sleep(100);
            read = await statuses();
          }
          expect(read.map((n) => n.status)).toEqual(ids.map(() => 'sent'));
          for (const notification of read) {
            const history = notification.history as { type: string }[];
            expect(history.filter((h) => h.type === 'NotificationSent')).toHaveLength(1);
          }
          for (const nid of ids) expect(mailjet.sent.some((m) => m.customId === nid)).toBe(true);
        } finally {
          second.process.kill('SIGTERM');
          expect(await second.exited).toBe(0);
        }
      } finally {
        if (first.process.exitCode === null) first.process.kill('SIGKILL');
      }
    },
    120_000,
  );
});
