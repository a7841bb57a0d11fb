import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationStreamId } from '../../../src/commands/notification-routes.js';
import { notificationDecider, type NotificationEvent } from '../../../src/domain/notification.js';
import { TemplateRenderer } from '../../../src/reactors/notifications/template-renderer.js';
import { testDatabases } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/** A notification is rendered with the template version current when it was requested, not a later one. */
describe.each(testDatabases())('template version pinned at request on $name', (database) => {
  let t: RunningApp;

  beforeAll(async () => {
    t = await startTestApp(database, { worker: false, templates: { welcome: { subject: 'Bienvenue {{name}}', body_html: '<p>Version fichier</p>' } } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('records the version at request time and renders that version after a new one is published', async () => {
    const requested = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'welcome', channel: 'email', recipient: 'marie@example.fr', data: { name: 'Marie' } },
    });
    expect(requested.status).toBe(202);
    const id: string = requested.body.notifications[0].notification_id;

    const published = await t.call('PUT', '/api/communication/templates/welcome', {
      body: { kind: 'transactional', subject: 'Nouveau {{name}}', body_html: '<p>Version 1</p>' },
    });
    expect(published.status).toBeLessThan(300);
    await t.call('GET', `/api/communication/templates/welcome?min_position=${encodeURIComponent(published.body.position)}`);
    // The catalogue remembers a template's latest version for a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const events = await t.app.store.readStream(notificationStreamId(id));
    expect(events[0]!.data).toMatchObject({ template_id: 'welcome', template_version: 0 });
    const state = events.reduce((s, e) => notificationDecider.evolve(s, e as unknown as NotificationEvent), notificationDecider.initialState());
    if (state.status === 'none') throw new Error('no notification');

    const renderer = new TemplateRenderer(t.app.templates);
    const message = await renderer.render(state);
    expect(message.email?.subject).toBe('Bienvenue Marie');
    expect(await renderer.render({ ...state, template_version: undefined }).then((m) => m.email?.subject)).toBe('Nouveau Marie');

    const later = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'welcome', channel: 'email', recipient: 'paul@example.fr', data: { name: 'Paul' } },
    });
    const laterEvents = await t.app.store.readStream(notificationStreamId(later.body.notifications[0].notification_id));
    expect(laterEvents[0]!.data).toMatchObject({ template_version: 1 });
  });
});
