import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

describe.each(testDatabases())('notification API on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    // No worker: these tests look at requests as accepted, before anything is sent.
    t = await startTestApp(database, { worker: false, templates: { promotional_email: { subject: '{{promo_title}}', body_html: '<p>{{promo_title}}</p>' } } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const one = { template_id: 'promotional_email', channel: 'email', recipient: 'marie@example.fr', data: { promo_title: 'Pizza' } };

  it('accepts one notification and shows it pending with its history', async () => {
    const response = await t.call('POST', '/api/communication/notify', { body: one });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: 'accepted', accepted: 1, rejected: 0, notifications: [{ index: 0, status: 'pending' }] });
    const id = response.body.notifications[0].notification_id;
    const read = await t.call('GET', `/api/communication/notifications/${id}?min_position=${response.body.position}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id, status: 'pending', channel: 'email', recipient: 'marie@example.fr', template_id: 'promotional_email' });
    expect(read.body.history).toEqual([expect.objectContaining({ type: 'NotificationRequested' })]);
  });

  it('names the field of a bad single request (400) and refuses an unknown template (422)', async () => {
    const bad = await t.call('POST', '/api/communication/notify', { body: { ...one, recipient: 'not-an-email' } });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([{ path: 'recipient', message: expect.stringContaining('email') }]);
    const phone = await t.call('POST', '/api/communication/notify', { body: { ...one, channel: 'sms', recipient: '0612345678' } });
    expect(phone.status).toBe(400);
    expect(phone.body.details[0].message).toContain('E.164');
    const unknown = await t.call('POST', '/api/communication/notify', { body: { ...one, template_id: 'nope' } });
    expect(unknown.status).toBe(422);
    expect(unknown.body).toMatchObject({ error: 'template_not_found', details: [{ path: 'template_id' }] });
    const missing = await t.call('POST', '/api/communication/notify', { body: { template_id: 'promotional_email' } });
    expect(missing.status).toBe(400);
  });

  it('accepts the valid recipients of a batch and reports each bad one by index and field', async () => {
    const response = await t.call('POST', '/api/communication/notify', {
      body: {
        template_id: 'promotional_email',
        channel: 'email',
        data: { promo_title: 'Menu du jour' },
        recipients: [
          { recipient: 'a@example.fr' },
          { recipient: 'broken' },
          { recipient: 'c@example.fr', data: { promo_title: 'Autre' } },
          { recipient: 'd@example.fr', template_id: 'nope' },
          { nothing: true },
        ],
      },
    });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: 'partially_accepted', accepted: 2, rejected: 3 });
    const byIndex = response.body.notifications;
    expect(byIndex.map((r: { status: string }) => r.status)).toEqual(['pending', 'rejected', 'pending', 'rejected', 'rejected']);
    expect(byIndex[1].error.details[0].path).toBe('recipients.1.recipient');
    expect(byIndex[3].error).toMatchObject({ error: 'template_not_found', details: [{ path: 'recipients.3.template_id' }] });
    expect(byIndex[4].error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['recipients.4.recipient']));
  });

  it('refuses a batch over 1,000 recipients and a batch with no valid recipient', async () => {
    const tooMany = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'promotional_email', channel: 'email', recipients: Array.from({ length: 1001 }, (_, i) => ({ recipient: `r${i}@example.fr` })) },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.details[0].path).toBe('body.recipients');
    const none = await t.call('POST', '/api/communication/notify', { body: { template_id: 'promotional_email', channel: 'email', recipients: [{ recipient: 'x' }] } });
    expect(none.status).toBe(422);
    expect(none.body).toMatchObject({ error: 'batch_rejected', details: [{ path: 'recipients.0.recipient' }] });
  });

  it('is idempotent per recipient through client_id', async () => {
    const body = { ...one, client_id: 'resa-42-rappel' };
    const first = await t.call('POST', '/api/communication/notify', { body });
    const again = await t.call('POST', '/api/communication/notify', { body });
    expect(first.body.notifications[0].status).toBe('pending');
    expect(again.body.notifications[0]).toMatchObject({ status: 'duplicate', notification_id: first.body.notifications[0].notification_id });
  });

  it('lists notifications with filters', async () => {
    const sms = await t.call('POST', '/api/communication/notify', { body: { ...one, channel: 'sms', recipient: '+33612345678' } });
    const list = await t.call('GET', `/api/communication/notifications?channel=sms&min_position=${sms.body.position}`);
    expect(list.status).toBe(200);
    expect(list.body.notifications.length).toBeGreaterThan(0);
    expect(list.body.notifications.every((n: { channel: string }) => n.channel === 'sms')).toBe(true);
    const bad = await t.call('GET', '/api/communication/notifications?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z');
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].path).toBe('querystring.to');
  });
});
