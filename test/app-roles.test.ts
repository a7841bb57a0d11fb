import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { natsUrl, pgliteDatabase } from './support/databases.js';
import { startTestApp, type RunningApp } from './support/test-app.js';

describe.skipIf(!natsUrl)('what each role runs', () => {
  const id = randomBytes(5).toString('hex');
  const streams = ['', '_EVENTS', '_CRM', '_CENTRAL'].map((suffix) => `TEST_ROLES_${id}${suffix}`);
  // Streams of its own, deleted afterwards.
  const env = {
    NATS_URL: natsUrl!,
    COMM_NATS_STREAM: streams[0]!,
    COMM_NATS_SUBJECT_PREFIX: `roles${id}.jobs`,
    COMM_EVENTS_STREAM: streams[1]!,
    COMM_EVENTS_SUBJECT_PREFIX: `roles${id}.events`,
    COMM_CRM_STREAM: streams[2]!,
    COMM_CRM_SUBJECT_PREFIX: `roles${id}.crm`,
    COMM_CENTRAL_STREAM: streams[3]!,
    COMM_CENTRAL_SUBJECT_PREFIX: `roles${id}.central`,
  };
  const apps: RunningApp[] = [];
  const reactorsOf = async (roles: { projector: boolean; worker: boolean }) => {
    const app = await startTestApp(pgliteDatabase(), { api: false, ...roles, env });
    apps.push(app);
    return app.app.reactors.map((reactor) => reactor.definition.name);
  };
  const statusOfLast = async () => (await apps.at(-1)!.call('GET', '/api/communication/status')).body as unknown;

  afterAll(async () => {
    for (const app of apps) await app.close();
    const nc = await connect({ servers: natsUrl! });
    const jsm = await jetstreamManager(nc);
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  it('publishes integration events where the projections run, so a worker-only process keeps its thread for jobs', async () => {
    const worker = await reactorsOf({ projector: false, worker: true });
    expect(worker).toContain('notification-dispatch');
    expect(worker).not.toContain('integration-events');
    // Its status still reports them, as it does every reactor whatever process runs it.
    expect(JSON.stringify(await statusOfLast())).toContain('integration-events');
    expect(await reactorsOf({ projector: true, worker: false })).toEqual(['integration-events']);
    expect(await reactorsOf({ projector: true, worker: true })).toContain('integration-events');
  }, 60_000);
});
