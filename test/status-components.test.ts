import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '../src/platforms/social/connector.js';
import { pgliteDatabase } from './support/databases.js';
import { scriptedConnector } from './support/scripted-connector.js';
import { campaignBody, startTestApp, type RunningApp } from './support/test-app.js';

describe('status of projections', () => {
  const database = pgliteDatabase();
  let t: RunningApp;
  beforeAll(async () => {
    // No projector in this process: the status route must still tell how far behind the read model is.
    t = await startTestApp(database, { projector: false });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('counts the events a projection has still to apply and how old the oldest is', async () => {
    await t.call('POST', '/api/communication/campaigns', { body: campaignBody() });
    await t.call('POST', '/api/communication/campaigns', { body: campaignBody() });
    const status = await t.call('GET', '/api/communication/status');
    expect(status.status).toBe(200);
    const campaigns = status.body.components.projections.projections.find((p: { name: string }) => p.name === 'campaigns');
    expect(campaigns).toMatchObject({ running_here: false, position: null, pending_events: 2, pending_capped: false });
    expect(campaigns.lag_ms).toBeGreaterThanOrEqual(0);
  });
});

describe('status of reactors, work queues and external services', () => {
  const database = pgliteDatabase();
  let t: RunningApp;
  // A Facebook connection whose breaker is open and whose token the platform refuses.
  const facebook = {
    ...scriptedConnector('facebook', '104857600', {
      check: async () => {
        throw new PlatformError('facebook', 'auth', 'Error validating access token: Session has expired');
      },
    }),
    state: 'open' as const,
    isOpen: true,
  };
  beforeAll(async () => {
    t = await startTestApp(database, { projector: false, connectors: { facebook }, env: { COMM_STATUS_MAX_LAG_SECONDS: '1' } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('keeps the components it had and adds reactors, work queues and external services', async () => {
    const status = await t.call('GET', '/api/communication/status');
    expect(Object.keys(status.body.components)).toEqual(
      expect.arrayContaining(['event_store', 'read_models', 'message_bus', 'projections', 'reactors', 'work_queues', 'external_services']),
    );
    const reactors = status.body.components.reactors;
    expect(reactors.reactors.map((r: { name: string }) => r.name)).toEqual(['notification-dispatch', 'webhook-fanout', 'campaign-fanout', 'spend-recorder']);
    expect(reactors.reactors[0]).toMatchObject({ running_here: true, pending_capped: false, lagging: false, last_error: null });
    expect(status.body.components.work_queues.queues.map((q: { name: string }) => q.name)).toEqual(
      expect.arrayContaining(['notify-email', 'notify-sms', 'notify-push', 'publish-facebook']),
    );
  });

  it('is degraded, yet ready, when a projection lags, a breaker is open, a heartbeat fails or a job is dead-lettered', async () => {
    await t.call('POST', '/api/communication/campaigns', { body: campaignBody() });
    const consumer = await t.app.bus.consume({ durable: 'status-test', subjects: ['comm.jobs.test.status'] }, (m) => m.deadLetter('refused'));
    await t.app.bus.publish('comm.jobs.test.status', {}, { msgId: 'status-test-1' });
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const status = await t.call('GET', '/api/communication/status');
    expect(status.status).toBe(200);
    expect(status.body.status).toBe('degraded');
    const { projections, work_queues: queues, external_services: services } = status.body.components;
    expect(projections.status).toBe('degraded');
    expect(projections.max_lag_ms).toBe(1_000);
    expect(projections.projections.find((p: { name: string }) => p.name === 'campaigns')).toMatchObject({ lagging: true, pending_events: 1 });
    expect(queues).toMatchObject({ status: 'degraded', dead_letters: 1 });
    expect(queues.queues.find((q: { name: string }) => q.name === 'status-test')).toMatchObject({ pending: 0, ack_pending: 0, redelivered: 0, dead_letters: 1 });
    expect(services.status).toBe('degraded');
    expect(services.services).toEqual([
      expect.objectContaining({
        name: 'facebook',
        kind: 'platform',
        account: '104857600',
        breaker: 'open',
        heartbeat: expect.objectContaining({ ok: false, error_class: 'auth', message: 'Error validating access token: Session has expired' }),
        heartbeat_supported: true,
        token_expires_at: null,
      }),
    ]);
    expect((await t.call('GET', '/health/ready', { key: null })).status).toBe(200);
    await consumer.stop();
  });

  it('appends one ExternalServiceUnhealthy alert for the failing platform', async () => {
    const events = await t.app.store.readStream('service-health-facebook');
    expect(events.map((e) => e.type)).toEqual(['ExternalServiceUnhealthy']);
    expect(events[0]?.data).toMatchObject({ service: 'facebook', kind: 'platform', error_class: 'auth' });
  });
});
