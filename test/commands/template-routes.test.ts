import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

const base = '/api/communication/templates';

const confirmation = {
  kind: 'transactional',
  subject: 'Votre table est réservée - {{date date "long"}}',
  body_html:
    "<h1>Réservation confirmée</h1><p>Bonjour {{customer.first_name}},</p><p>Votre table pour {{plural guests 'personne' 'personnes'}} vous attend le {{date date 'long_time'}}.</p><p><a href='{{manage_link}}'>Gérer ma réservation</a></p>",
  sms: "Le Vieux Moulin : table pour {{plural guests 'personne' 'personnes'}} le {{date date 'datetime'}}.",
  push: { title: 'Réservation confirmée', body: 'Table pour {{plural guests "personne" "personnes"}}' },
  sample_data: { customer: { first_name: 'Camille' }, guests: 4, date: '2026-11-24T19:30:00+01:00', manage_link: 'https://levieuxmoulin.fr/r/ABC' },
};

describe.each(testDatabases())('template API on $name', (database) => {
  let t: RunningApp;
  let n = 0;
  /** A fresh template id per test. */
  const id = (name: string) => `${name}-${++n}`;
  beforeAll(async () => {
    t = await startTestApp(database);
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('publishes version 1 (201), reads it back at the returned position, then publishes version 2', async () => {
    const templateId = id('reservation_confirmation');
    const created = await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ template_id: templateId, version: 1, kind: 'transactional', status: 'active', revision: 0 });
    expect(created.body.position).toMatch(/^\d+\.\d+$/);
    expect(created.headers.get('location')).toBe(`${base}/${templateId}`);
    expect(created.headers.get('etag')).toBe('"0"');

    const read = await t.call('GET', `${base}/${templateId}?min_position=${created.body.position}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      id: templateId,
      version: 1,
      latest_version: 1,
      kind: 'transactional',
      status: 'active',
      source: 'api',
      has_default: false,
      channels: ['email', 'sms', 'push'],
      subject: confirmation.subject,
      body_html: confirmation.body_html,
      body_text: null,
      sms: confirmation.sms,
      push: confirmation.push,
      sample_data: confirmation.sample_data,
      revision: 0,
    });
    expect(read.headers.get('etag')).toBe('"0"');
    expect(read.headers.get('x-read-position')).toMatch(/^\d+\.\d+$/);

    // The same content again: nothing recorded.
    const same = await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ version: 1, revision: 0, position: null });

    // kind may be left out after the first version.
    const { kind: _kind, ...withoutKind } = confirmation;
    const v2 = await t.call('PUT', `${base}/${templateId}`, { body: { ...withoutKind, sms: 'Le Vieux Moulin : à bientôt, {{customer.first_name}} !' } });
    expect(v2.status).toBe(200);
    expect(v2.body).toMatchObject({ version: 2, revision: 1, kind: 'transactional' });
    const latest = await t.call('GET', `${base}/${templateId}?min_position=${v2.body.position}`);
    expect(latest.body).toMatchObject({ version: 2, latest_version: 2, sms: 'Le Vieux Moulin : à bientôt, {{customer.first_name}} !' });
    const first = await t.call('GET', `${base}/${templateId}?version=1`);
    expect(first.body).toMatchObject({ version: 1, latest_version: 2, sms: confirmation.sms });

    const list = await t.call('GET', `${base}?min_position=${v2.body.position}`);
    expect(list.status).toBe(200);
    expect(list.body.templates).toContainEqual({
      id: templateId,
      kind: 'transactional',
      status: 'active',
      latest_version: 2,
      source: 'api',
      channels: ['email', 'sms', 'push'],
      has_default: false,
      updated_at: expect.any(String),
    });
    expect(list.body.position).toMatch(/^\d+\.\d+$/);
  });

  it('answers 422 naming the field when the Handlebars source does not compile, and stores nothing', async () => {
    const before = await t.app.store.headPosition();
    const response = await t.call('PUT', `${base}/${id('broken')}`, {
      body: { ...confirmation, body_html: '<p>{{#if guests}}</p>', push: { title: '{{formatDate date}}', body: 'ok' } },
    });
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('template_does_not_compile');
    expect(response.body.details.map((d: { path: string }) => d.path)).toEqual(['body_html', 'push.title']);
    expect(response.body.details[1].message).toMatch(/unknown helper "formatDate"/);
    expect(await t.app.store.headPosition()).toEqual(before);
  });

  it('enforces the business rules: STOP in a marketing SMS, a fixed kind, a kind for the first version', async () => {
    const promo = await t.call('PUT', `${base}/${id('promo_sms')}`, { body: { kind: 'marketing', sms: 'Le Vieux Moulin : {{promo}} !' } });
    expect(promo.status).toBe(422);
    expect(promo.body).toMatchObject({ error: 'sms_stop_mention_required', details: [{ path: 'sms' }] });

    const templateId = id('promo_sms');
    const ok = await t.call('PUT', `${base}/${templateId}`, { body: { kind: 'marketing', sms: 'Le Vieux Moulin : {{promo}} ! STOP au 36111' } });
    expect(ok.status).toBe(201);
    const turned = await t.call('PUT', `${base}/${templateId}`, { body: { kind: 'transactional', sms: 'Le Vieux Moulin : {{promo}} !' } });
    expect(turned.status).toBe(422);
    expect(turned.body.error).toBe('template_kind_immutable');

    const noKind = await t.call('PUT', `${base}/${id('nokind')}`, { body: { sms: 'x {{y}}' } });
    expect(noKind.status).toBe(422);
    expect(noKind.body).toMatchObject({ error: 'template_kind_required', details: [{ path: 'kind' }] });
  });

  it('validates the request (400 naming each field)', async () => {
    const badId = await t.call('PUT', `${base}/Promo%20Email`, { body: confirmation });
    expect(badId.status).toBe(400);
    expect(badId.body.details[0].path).toBe('params.id');

    const badBody = await t.call('PUT', `${base}/${id('x')}`, { body: { ...confirmation, kind: 'spam', colour: 'red', sms: '', push: { title: 'x' } } });
    expect(badBody.status).toBe(400);
    const paths = badBody.body.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.kind', 'body.sms', 'body.push.body']));

    const badVersion = await t.call('GET', `${base}/x?version=-1`);
    expect(badVersion.status).toBe(400);
    expect(badVersion.body.details[0].path).toBe('querystring.version');
  });

  it('previews with the sample data or the given data; a missing variable is a 422 naming it', async () => {
    const templateId = id('preview');
    const created = await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    const query = `?min_position=${created.body.position}`;

    const sample = await t.call('POST', `${base}/${templateId}/preview${query}`, { body: {} });
    expect(sample.status).toBe(200);
    expect(sample.body).toMatchObject({ template_id: templateId, version: 1, source: 'api', kind: 'transactional', used_sample_data: true });
    expect(sample.body.rendered.subject).toBe('Votre table est réservée - mardi 24 novembre 2026');
    expect(sample.body.rendered.html).toContain('<p>Bonjour Camille,</p>');
    expect(sample.body.rendered.text).toContain('Votre table pour 4 personnes vous attend le mardi 24 novembre 2026 à 19:30.');
    expect(sample.body.rendered.text).toContain('Gérer ma réservation (https://levieuxmoulin.fr/r/ABC)');
    expect(sample.body.rendered.sms).toBe('Le Vieux Moulin : table pour 4 personnes le 24/11/2026 19:30.');
    expect(sample.body.rendered.push).toEqual({ title: 'Réservation confirmée', body: 'Table pour 4 personnes' });

    const given = await t.call('POST', `${base}/${templateId}/preview`, {
      body: { data: { ...confirmation.sample_data, customer: { first_name: '<Léa>' }, guests: 1 } },
    });
    expect(given.status).toBe(200);
    expect(given.body.used_sample_data).toBe(false);
    expect(given.body.rendered.html).toContain('Bonjour &lt;Léa&gt;,');
    expect(given.body.rendered.sms).toContain('table pour 1 personne le');

    const missing = await t.call('POST', `${base}/${templateId}/preview`, { body: { data: { ...confirmation.sample_data, customer: {} } } });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toBe('missing_variable');
    expect(missing.body.message).toContain('customer.first_name');
    expect(missing.body.message).toContain(templateId);
    expect(missing.body.details).toEqual([{ path: 'data.customer.first_name', message: expect.stringContaining('body_html') }]);

    const noBody = await t.call('POST', `${base}/${templateId}/preview`);
    expect(noBody.status).toBe(200);
    expect(noBody.body.used_sample_data).toBe(true);

    const unknownVersion = await t.call('POST', `${base}/${templateId}/preview`, { body: { version: 7 } });
    expect(unknownVersion.status).toBe(404);
    expect(unknownVersion.body.error).toBe('template_version_not_found');
  });

  it('archives a template: shown as archived, still previewable, restored by a new version', async () => {
    const templateId = id('old_menu');
    await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    const archived = await t.call('POST', `${base}/${templateId}/archive`, { body: { reason: 'fin de saison' } });
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ template_id: templateId, status: 'archived', version: 1, revision: 1 });
    const again = await t.call('POST', `${base}/${templateId}/archive`);
    expect(again.body).toMatchObject({ status: 'archived', revision: 1, position: null });

    const read = await t.call('GET', `${base}/${templateId}?min_position=${archived.body.position}`);
    expect(read.body).toMatchObject({ status: 'archived', version: 1 });
    const list = await t.call('GET', `${base}?status=archived`);
    expect(list.body.templates.map((x: { id: string }) => x.id)).toContain(templateId);
    expect((await t.call('POST', `${base}/${templateId}/preview`)).status).toBe(200);

    const restored = await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    expect(restored.body).toMatchObject({ status: 'active', version: 2 });

    const unknown = await t.call('POST', `${base}/${id('never')}/archive`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('template_not_found');
  });

  it('gives 404 for unknown templates and versions', async () => {
    const missing = await t.call('GET', `${base}/${id('nothing')}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('template_not_found');
    const templateId = id('versions');
    const created = await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    const version = await t.call('GET', `${base}/${templateId}?version=5&min_position=${created.body.position}`);
    expect(version.status).toBe(404);
    expect(version.body.error).toBe('template_version_not_found');
    expect((await t.call('POST', `${base}/${id('nothing')}/preview`)).status).toBe(404);
  });

  it('refuses a publication based on a stale revision (If-Match) with 409', async () => {
    const templateId = id('concurrent');
    await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    const first = await t.call('PUT', `${base}/${templateId}`, { body: { ...confirmation, sms: 'v2 {{x}}' }, headers: { 'if-match': '"0"' } });
    expect(first.status).toBe(200);
    const stale = await t.call('PUT', `${base}/${templateId}`, { body: { ...confirmation, sms: 'v3 {{x}}' }, headers: { 'if-match': '"0"' } });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('concurrency_conflict');
  });

  it('gives concurrent publications consecutive versions', async () => {
    const templateId = id('burst');
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.call('PUT', `${base}/${templateId}`, { body: { ...confirmation, sms: `version ${i} {{x}}` } })),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(responses.map((r) => r.body.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('needs notifications:read to read and preview, notifications:send to publish and archive', async () => {
    const templateId = id('scoped');
    const created = await t.call('PUT', `${base}/${templateId}`, { body: confirmation });
    const reader = await t.keyWith(['notifications:read']);
    const sender = await t.keyWith(['notifications:send']);
    const other = await t.keyWith(['campaigns:read']);
    expect((await t.call('GET', base, { key: reader })).status).toBe(200);
    expect((await t.call('POST', `${base}/${templateId}/preview?min_position=${created.body.position}`, { key: reader })).status).toBe(200);
    expect((await t.call('PUT', `${base}/${templateId}`, { key: reader, body: confirmation })).status).toBe(403);
    expect((await t.call('PUT', `${base}/${templateId}`, { key: sender, body: confirmation })).status).toBe(200);
    expect((await t.call('POST', `${base}/${templateId}/archive`, { key: reader })).status).toBe(403);
    expect((await t.call('GET', base, { key: other })).status).toBe(403);
    expect((await t.call('GET', base, { key: null })).status).toBe(401);
  });

  it('records the template events with their metadata', async () => {
    const templateId = id('meta');
    await t.call('PUT', `${base}/${templateId}`, { body: confirmation, headers: { 'x-correlation-id': 'corr-tpl' } });
    const [event] = await t.app.store.readStream(`template-${templateId}`);
    expect(event!.type).toBe('TemplateVersionPublished');
    expect(event!.data).toMatchObject({ template_id: templateId, version: 1, kind: 'transactional', body_text: null });
    expect(event!.metadata).toMatchObject({ correlation_id: 'corr-tpl', schema_version: 1 });
  });
});
