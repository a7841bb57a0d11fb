import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { CampaignClock } from '../../../src/reactors/campaigns/campaign-clock.js';
import { testDatabases } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

const HOUR = 3_600_000;

describe.each(testDatabases())('campaign clock on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, { worker: false });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const campaign = async (startInHours: number, endInHours: number) => {
    const created = await t.call('POST', '/api/communication/campaigns', {
      body: {
        name: 'Horloge',
        start_date: new Date(Date.now() + startInHours * HOUR).toISOString(),
        end_date: new Date(Date.now() + endInHours * HOUR).toISOString(),
        channels: [{ type: 'web', content_template: 'Offre', config: { title: 'Offre' } }],
      },
    });
    const scheduled = await t.call('POST', `/api/communication/campaigns/${created.body.campaign_id}/schedule`, { body: {} });
    expect(scheduled.body.status).toBe('scheduled');
    return { id: created.body.campaign_id as string, position: scheduled.body.position as string };
  };
  const statusOf = async (id: string, position: string) => (await t.call('GET', `/api/communication/campaigns/${id}?min_position=${position}`)).body.status;

  it('activates a scheduled campaign once its start date has come, and completes it once its end date has passed', async () => {
    const due = await campaign(-1, 2);
    const later = await campaign(1, 2);
    const clock = new CampaignClock(t.app.store, t.app.db, createLogger('silent'), 60_000);
    expect(await statusOf(later.id, later.position)).toBe('scheduled'); // the read model the clock reads has both

    const now = new Date();
    expect(await clock.tick(now)).toBe(1);
    const head = await t.app.store.headPosition();
    const at = `${head!.commit}.${head!.prepare}`;
    expect(await statusOf(due.id, at)).toBe('active');
    expect(await statusOf(later.id, at)).toBe('scheduled');
    // Nothing more to move at the same time: the second round changes nothing.
    expect(await clock.tick(now)).toBe(0);

    const afterEnd = new Date(Date.now() + 3 * HOUR);
    expect(await clock.tick(afterEnd)).toBeGreaterThanOrEqual(1);
    const end = await t.app.store.headPosition();
    expect(await statusOf(due.id, `${end!.commit}.${end!.prepare}`)).toBe('completed');
  });
});
