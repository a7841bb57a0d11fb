import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailjetDouble, type MailjetDouble } from '../../doubles/mailjet-double.js';
import { testDatabases } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/**
 * The whole pipeline over real HTTP: POST /notify → NotificationRequested → dispatch reactor → bus → worker →
 * template → Mailjet connector → the Mailjet double → NotificationSent; then Mailjet's delivery report comes back
 * through the inbound webhook.
 */
describe.each(testDatabases())('notification pipeline on $name', (database) => {
  let t: RunningApp;
  let mailjet: MailjetDouble;
  const webhook = { username: 'mailjet-hook', password: 'hook-secret-123' };

  beforeAll(async () => {
    mailjet = await startMailjetDouble();
    t = await startTestApp(database, {
      templates: {
        reservation_confirmation: { subject: 'Bienvenue {{first_name}}', body_html: '<p>Bonjour {{first_name}}, votre table vous attend le {{date day}}.</p>' },
      },
      notifications: {
        email: {
          provider: 'mailjet',
          api_key: mailjet.apiKey,
          api_secret: mailjet.apiSecret,
          from_email: 'restaurant@levieuxmoulin.fr',
          from_name: 'Le Vieux Moulin',
          base_url: mailjet.url,
          webhook_username: webhook.username,
          webhook_password: webhook.password,
        } as never,
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await mailjet.stop();
    await database.cleanup();
  });

  const waitForStatus = async (id: string, wanted: string[], timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await t.call('GET', `/api/communication/notifications/${id}`);
      if (response.status === 200 && wanted.includes(response.body.status)) return response.body;
      if (Date.now() > deadline) throw new Error(`notification ${id} still ${response.body?.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('renders, sends through the provider and records the provider message id', async () => {
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'marie@example.fr', data: { first_name: 'Marie', day: '2026-12-24T19:30:00Z' } },
    });
    expect(response.status).toBe(202);
    const id = response.body.notifications[0].notification_id;
    const sent = await waitForStatus(id, ['sent']);
    expect(sent.provider).toBe('mailjet');
    const delivered = mailjet.sent.find((m) => m.customId === id)!;
    expect(delivered).toBeDefined();
    expect(sent.provider_message_id).toBe(delivered.messageId);
    expect(delivered.email).toBe('marie@example.fr');
    expect(delivered.message).toMatchObject({ Subject: 'Bienvenue Marie' });
    expect(String(delivered.message.HTMLPart)).toContain('Bonjour Marie');
    expect(String(delivered.message.TextPart)).toContain('Bonjour Marie');
    expect(sent.history.map((h: { type: string }) => h.type)).toEqual(['NotificationRequested', 'NotificationSent']);
  });

  it('takes the delivery report from the verified webhook, once, and refuses an unsigned one', async () => {
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'paul@example.fr', data: { first_name: 'Paul', day: '2026-12-24T19:30:00Z' } },
    });
    const id = response.body.notifications[0].notification_id;
    const sent = await waitForStatus(id, ['sent']);
    const report = [{ event: 'sent', time: Math.floor(Date.now() / 1000), MessageID: sent.provider_message_id, email: 'paul@example.fr', CustomID: id }];
    const auth = `Basic ${Buffer.from(`${webhook.username}:${webhook.password}`).toString('base64')}`;
    const unsigned = await t.call('POST', '/api/communication/webhooks/inbound/mailjet', { body: report, key: null });
    expect(unsigned.status).toBe(401);
    const first = await t.call('POST', '/api/communication/webhooks/inbound/mailjet', { body: report, key: null, headers: { authorization: auth } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ received: 1, applied: 1 });
    const again = await t.call('POST', '/api/communication/webhooks/inbound/mailjet', { body: report, key: null, headers: { authorization: auth } });
    expect(again.body).toMatchObject({ received: 1, applied: 0 });
    const delivered = await waitForStatus(id, ['delivered']);
    expect(delivered.history.filter((h: { type: string }) => h.type === 'NotificationDelivered')).toHaveLength(1);
  });

  it('puts a recipient who reports spam on the suppression list, for every later message', async () => {
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'Lea@Example.fr', data: { first_name: 'Léa', day: '2026-12-24T19:30:00Z' } },
    });
    const id = response.body.notifications[0].notification_id;
    const sent = await waitForStatus(id, ['sent']);
    const auth = `Basic ${Buffer.from(`${webhook.username}:${webhook.password}`).toString('base64')}`;
    const report = [{ event: 'spam', time: Math.floor(Date.now() / 1000), MessageID: sent.provider_message_id, email: 'lea@example.fr', CustomID: id, source: 'JMRPP' }];
    const first = await t.call('POST', '/api/communication/webhooks/inbound/mailjet', { body: report, key: null, headers: { authorization: auth } });
    expect(first.status).toBe(200);
    expect(first.body.applied).toBe(1);
    await t.call('POST', '/api/communication/webhooks/inbound/mailjet', { body: report, key: null, headers: { authorization: auth } });
    let consent: { suppressed: boolean; suppression_reason: string; suppressions: unknown[] } | undefined;
    for (let i = 0; i < 100 && !consent?.suppressed; i++) {
      const read = await t.call('GET', '/api/communication/consents?recipient=lea@example.fr&channel=email');
      consent = read.body.consents[0];
      if (!consent?.suppressed) await new Promise((r) => setTimeout(r, 50));
    }
    expect(consent).toMatchObject({ suppressed: true, suppression_reason: 'spam_report' });
    expect(consent!.suppressions).toHaveLength(1);

    // Even a transactional message no longer goes to an address that reported spam.
    const next = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'lea@example.fr', data: { first_name: 'Léa', day: '2026-12-24T19:30:00Z' } },
    });
    const skipped = await waitForStatus(next.body.notifications[0].notification_id, ['skipped']);
    expect(skipped.status).toBe('skipped');
  });

  it('fails a notification whose template lacks a variable, with the variable named, and sends nothing', async () => {
    const before = mailjet.requests.length;
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'zoe@example.fr', data: { day: '2026-12-24T19:30:00Z' } },
    });
    const id = response.body.notifications[0].notification_id;
    const failed = await waitForStatus(id, ['failed']);
    expect(failed.failure).toMatchObject({ error_class: 'validation' });
    expect(String(failed.failure.message)).toContain('first_name');
    expect(mailjet.requests.length).toBe(before);
  });

  it('fails a notification the provider refuses for good, with the provider message', async () => {
    mailjet.fail({ status: 400, times: 1 });
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'refused@example.fr', data: { first_name: 'X', day: '2026-12-24T19:30:00Z' } },
    });
    expect(response.status).toBe(202);
    const id = response.body.notifications[0].notification_id;
    const failed = await waitForStatus(id, ['failed', 'sent']);
    expect(failed.status).toBe('failed');
    expect(failed.failure).toMatchObject({ error_class: 'permanent', provider: 'mailjet' });
  });

  it('fails a notification for a channel with no provider configured', async () => {
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'sms', recipient: '+33612345678', data: { first_name: 'A', day: '2026-12-24T19:30:00Z' } },
    });
    const id = response.body.notifications[0].notification_id;
    const failed = await waitForStatus(id, ['failed']);
    expect(failed.failure.message).toMatch(/no SMS text|No provider/i);
  });
});
