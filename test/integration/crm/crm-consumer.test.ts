import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientHash } from '../../../src/integration/recipient-hash.js';
import { testDatabases } from '../../support/databases.js';
import { crmEnv, deleteCrmEnvStreams, crmEvent, customer, eventually, publishCrm } from '../../support/crm-events.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/**
 * The CRM's events, published on the CRM subjects (NATS JetStream when NATS_URL is set, the in-process bus otherwise),
 * land in the audience read model and the consent streams.
 */
describe.each(testDatabases())('CRM events consumed on $name', (database) => {
  let t: RunningApp;
  const env = crmEnv();
  beforeAll(async () => {
    t = await startTestApp(database, {
      env,
      // A transactional template (by its id): only an erasure or a hard suppression stops it.
      templates: { reservation_confirmation: { subject: 'Votre table', body_html: '<p>À bientôt</p>' } },
    });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await deleteCrmEnvStreams(env);
    await database.cleanup();
  });

  const preview = (target_audience: Record<string, unknown>) => t.call('POST', '/api/communication/audience/preview', { body: { target_audience } });
  const sizeOf = async (segment: string, expected: number) =>
    eventually(async () => {
      const response = await preview({ segment });
      return response.status === 200 && response.body.size === expected ? response.body : undefined;
    });

  it('keeps customers, segments and consents, and sizes an audience per channel before launch', async () => {
    const marie = customer({ email: 'Marie.Dupont@Example.fr', phone: '+33612345678', first_name: 'Marie', last_name: 'Dupont' });
    const paul = customer({ email: 'paul@example.fr', language: 'en' });
    const broken = customer({ email: 'not an address', phone: '+33700000001' });
    for (const c of [marie, paul, broken]) await publishCrm(t.app, crmEvent('CustomerCreated', c));
    await publishCrm(t.app, crmEvent('ConsentChanged', { customer_id: marie.customer_id, channel: 'email', recipient: 'marie.dupont@example.fr', status: 'granted', source: 'in_restaurant', at: new Date().toISOString() }));
    await publishCrm(
      t.app,
      crmEvent('SegmentMembershipChanged', { segment_id: 'fideles', segment_name: 'Fidèles', added: [marie.customer_id, paul.customer_id, broken.customer_id], removed: [], at: new Date().toISOString() }),
    );

    await sizeOf('fideles', 3);
    const sized = await eventually(async () => {
      const body = (await preview({ segment: 'fideles' })).body;
      return body.per_channel.email.consented === 1 ? body : undefined;
    });
    // The malformed address is left out; the customer and the phone stay.
    expect(sized.per_channel).toEqual({ email: { addressable: 2, consented: 1 }, sms: { addressable: 2, consented: 0 } });
    expect((await preview({ segment: 'fideles', filters: { language: 'en' } })).body.size).toBe(1);
    expect((await preview({ customers: [marie.customer_id] })).body.per_channel.sms.addressable).toBe(1);

    const consents = await t.call('GET', `/api/communication/consents?recipient=marie.dupont@example.fr&channel=email`);
    expect(consents.body.consents[0]).toMatchObject({ granted: true, source: 'crm', erased: false });
    const segments = await t.call('GET', '/api/communication/segments');
    expect(segments.body.segments).toEqual([expect.objectContaining({ segment_id: 'fideles', name: 'Fidèles', members: 3 })]);
  });

  it('refuses an unknown segment and an audience it does not understand (422, with the rule and the field)', async () => {
    const unknown = await preview({ segment: 'inconnu' });
    expect(unknown.status).toBe(422);
    expect(unknown.body).toMatchObject({ error: 'unknown_segment', details: [{ path: 'target_audience.segment' }] });
    const odd = await preview({ segment: 'fideles', location: 'Vensac' });
    expect(odd.status).toBe(422);
    expect(odd.body.error).toBe('invalid_target_audience');
    expect((await preview({})).body.error).toBe('campaign_has_no_audience');
  });

  it('applies an event once, even delivered again later, and never lets an older update win', async () => {
    const anne = customer({ email: 'anne@example.fr' });
    await publishCrm(t.app, crmEvent('CustomerCreated', anne));
    const joined = crmEvent('SegmentMembershipChanged', { segment_id: 'vip', segment_name: 'VIP', added: [anne.customer_id], removed: [], at: new Date().toISOString() });
    await publishCrm(t.app, joined);
    await sizeOf('vip', 1);
    await publishCrm(t.app, crmEvent('SegmentMembershipChanged', { segment_id: 'vip', segment_name: 'VIP', added: [], removed: [anne.customer_id], at: new Date().toISOString() }));
    await sizeOf('vip', 0);
    // The same CRM event again, past the bus's own de-duplication (another message id): still out.
    await publishCrm(t.app, joined, { msgId: `${joined.id}-again` });
    const marker = customer({ email: 'marker@example.fr' });
    await publishCrm(t.app, crmEvent('CustomerCreated', marker));
    await publishCrm(t.app, crmEvent('SegmentMembershipChanged', { segment_id: 'marker', segment_name: 'Marker', added: [marker.customer_id], removed: [], at: new Date().toISOString() }));
    await sizeOf('marker', 1); // everything before it was handled (one message at a time, in order)
    expect((await preview({ segment: 'vip' })).body.size).toBe(0);

    const later = new Date(Date.now() + 60_000).toISOString();
    await publishCrm(t.app, crmEvent('CustomerUpdated', { ...anne, email: 'anne.new@example.fr', language: 'en' }, later));
    await publishCrm(t.app, crmEvent('CustomerUpdated', { ...anne, email: 'anne.old@example.fr', language: 'fr' }, new Date(Date.now() - 60_000).toISOString()));
    await eventually(async () => ((await preview({ customers: [anne.customer_id as string], filters: { language: 'en' } })).body.size === 1 ? true : undefined));
  });

  it('dead-letters a message that does not follow the contract, and goes on', async () => {
    const bus = t.app.crm!.bus;
    const deadLetters = async () => (await bus.stats!()).deadLetters;
    const before = await deadLetters();
    await publishCrm(t.app, { id: 'not-a-uuid', type: 'CustomerCreated', data: {} }, { type: 'CustomerCreated', msgId: 'broken-1' });
    const after = customer({ email: 'after@example.fr' });
    await publishCrm(t.app, crmEvent('CustomerCreated', after));
    await eventually(async () => ((await preview({ customers: [after.customer_id as string] })).body.size === 1 ? true : undefined));
    await eventually(async () => ((await deadLetters()) === before + 1 ? true : undefined));
  });

  it('erases a customer on a GDPR erasure request: out of the audience and the read models, every later message skipped', async () => {
    const email = 'jeanne.erase@example.fr';
    const jeanne = customer({ email, phone: '+33698765432', first_name: 'Jeanne', last_name: 'Martin' });
    await publishCrm(t.app, crmEvent('CustomerCreated', jeanne));
    await publishCrm(t.app, crmEvent('ConsentChanged', { customer_id: jeanne.customer_id, channel: 'email', recipient: email, status: 'granted', source: 'website_form', at: new Date().toISOString() }));
    await publishCrm(t.app, crmEvent('SegmentMembershipChanged', { segment_id: 'effacement', segment_name: 'Effacement', added: [jeanne.customer_id], removed: [], at: new Date().toISOString() }));
    await sizeOf('effacement', 1);
    // A message requested before the erasure: its read-model row names the address until the erasure.
    const before = await t.call('POST', '/api/communication/notify', { body: { template_id: 'reservation_confirmation', channel: 'email', recipient: email } });
    expect(before.status).toBe(202);
    const beforeId = before.body.notifications[0].notification_id;

    const erasure = crmEvent('CustomerDeleted', { customer_id: jeanne.customer_id, reason: 'erasure_request', merged_into: null });
    await publishCrm(t.app, erasure);
    await sizeOf('effacement', 0);
    const consent = await eventually(async () => {
      const body = (await t.call('GET', `/api/communication/consents?recipient=${email}&channel=email`)).body;
      return body.consents[0]?.erased ? body.consents[0] : undefined;
    });
    expect(consent).toMatchObject({ recipient: '[erased]', granted: null, suppressed: true });

    // The stored erasure names the address by its hash only.
    const streamEvents = await t.app.store.readStream(`consent-${recipientHash(email, 'email')}`);
    const erased = streamEvents.at(-1)!;
    expect(erased.type).toBe('RecipientErased');
    expect(JSON.stringify(erased.data)).not.toContain('jeanne');
    expect(erased.data).toMatchObject({ recipient_hash: recipientHash(email, 'email'), channel: 'email', source: 'crm' });
    expect((await t.app.store.readStream(`consent-${recipientHash('+33698765432', 'sms')}`)).map((e) => e.type)).toEqual(['RecipientErased']);

    // The notifications read model no longer shows the address.
    const row = await eventually(async () => {
      const body = (await t.call('GET', `/api/communication/notifications/${beforeId}`)).body;
      return body?.recipient === '[erased]' ? body : undefined;
    });
    expect(JSON.stringify(row)).not.toContain(email);

    // Later: a transactional message to the address is skipped; consent cannot be granted again; a replayed
    // "created" does not bring the customer back.
    const after = await t.call('POST', '/api/communication/notify', { body: { template_id: 'reservation_confirmation', channel: 'email', recipient: email } });
    const afterId = after.body.notifications[0].notification_id;
    const skipped = await eventually(async () => {
      const body = (await t.call('GET', `/api/communication/notifications/${afterId}`)).body;
      return body?.status === 'skipped' ? body : undefined;
    });
    expect(skipped.history.at(-1).details).toMatchObject({ reason: 'suppressed' });
    const regrant = await t.call('POST', '/api/communication/consents', { body: { recipient: email, channel: 'email', granted: true, source: 'website_form' } });
    expect(regrant.status).toBe(422);
    expect(regrant.body.error).toBe('recipient_erased');
    await publishCrm(t.app, crmEvent('CustomerCreated', jeanne));
    await publishCrm(t.app, crmEvent('SegmentMembershipChanged', { segment_id: 'effacement', segment_name: 'Effacement', added: [jeanne.customer_id], removed: [], at: new Date().toISOString() }));
    const marker = customer({ email: 'marker2@example.fr' });
    await publishCrm(t.app, crmEvent('CustomerCreated', marker));
    await eventually(async () => ((await preview({ customers: [marker.customer_id as string] })).body.size === 1 ? true : undefined));
    expect((await preview({ segment: 'effacement' })).body.size).toBe(0);
    const names = await t.app.db.selectFrom('audience_customers').selectAll().where('customer_id', '=', jeanne.customer_id).executeTakeFirstOrThrow();
    expect(names).toMatchObject({ email: null, phone: null, first_name: null, last_name: null });
    expect(names.erased_at).not.toBeNull();
  });

  it('a merge removes the customer here but does not block the address, which lives on in the other customer', async () => {
    const email = 'merge@example.fr';
    const merged = customer({ email });
    await publishCrm(t.app, crmEvent('CustomerCreated', merged));
    await publishCrm(t.app, crmEvent('CustomerDeleted', { customer_id: merged.customer_id, reason: 'merged', merged_into: customer().customer_id }));
    const marker = customer({ email: 'marker3@example.fr' });
    await publishCrm(t.app, crmEvent('CustomerCreated', marker));
    await eventually(async () => ((await preview({ customers: [marker.customer_id as string] })).body.size === 1 ? true : undefined));
    expect((await preview({ customers: [merged.customer_id as string] })).body.size).toBe(0);
    expect(await t.app.store.readStream(`consent-${recipientHash(email, 'email')}`)).toEqual([]);
  });
});
