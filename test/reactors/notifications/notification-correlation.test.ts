import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailjetDouble, type MailjetDouble } from '../../doubles/mailjet-double.js';
import { capturingLogger } from '../../support/captured-logs.js';
import { pgliteDatabase } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

describe('correlation id from the API call to the provider call', () => {
  const database = pgliteDatabase();
  const logs = capturingLogger('debug');
  let t: RunningApp;
  let mailjet: MailjetDouble;

  beforeAll(async () => {
    mailjet = await startMailjetDouble();
    t = await startTestApp(database, {
      // The per-notification provider line is at debug level (a campaign sends tens of thousands).
      logger: logs.logger,
      templates: { reservation_confirmation: { subject: 'Bienvenue {{first_name}}', body_html: '<p>Bonjour {{first_name}}</p>' } },
      notifications: {
        email: { provider: 'mailjet', api_key: mailjet.apiKey, api_secret: mailjet.apiSecret, from_email: 'restaurant@levieuxmoulin.fr', base_url: mailjet.url } as never,
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await mailjet.stop();
    await database.cleanup();
  });

  it('logs the provider call of a notification with the X-Correlation-Id of the POST /notify that asked for it', async () => {
    const correlationId = 'corr-notify-7f3a';
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'marie@example.fr', data: { first_name: 'Marie' } },
      headers: { 'x-correlation-id': correlationId },
    });
    expect(response.status).toBe(202);
    const id = response.body.notifications[0].notification_id;

    await expect.poll(() => logs.lines.find((l) => l.msg === 'provider accepted the notification' && l.notification_id === id), { timeout: 10_000 }).toMatchObject({
      correlation_id: correlationId,
      provider: 'mailjet',
      channel: 'email',
      attempt: 1,
    });
    expect(mailjet.sent.some((m) => m.customId === id)).toBe(true);
    // The same id is on the events the worker recorded, and no line about the job names the recipient.
    const stream = await t.app.store.readStream(`notification-${id}`);
    expect(stream.map((e) => [e.type, e.metadata.correlation_id])).toEqual([
      ['NotificationRequested', correlationId],
      ['NotificationSent', correlationId],
    ]);
    const jobLines = logs.lines.filter((l) => l.correlation_id === correlationId);
    expect(JSON.stringify(jobLines)).not.toContain('marie@example.fr');
  });
});
