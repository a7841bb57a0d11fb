import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from './support/databases.js';
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
