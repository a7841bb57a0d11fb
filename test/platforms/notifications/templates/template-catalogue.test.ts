import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../../src/commands/command-handler.js';
import { templateStreamId } from '../../../../src/commands/template-routes.js';
import { DomainError } from '../../../../src/domain/domain-error.js';
import { templateDecider, templateEvents, type TemplateCommand, type TemplateContent } from '../../../../src/domain/template.js';
import { loadConfigFiles } from '../../../../src/infrastructure/config/config-files.js';
import { createKysely, migrateToLatest } from '../../../../src/infrastructure/database/kysely.js';
import { createPostgresEventStore } from '../../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../../src/infrastructure/logging/logger.js';
import { TemplateRenderError } from '../../../../src/platforms/notifications/templates/engine.js';
import { checkpointMigrations } from '../../../../src/projections/checkpoints.js';
import { Projector } from '../../../../src/projections/projector.js';
import { rebuildProjection } from '../../../../src/projections/rebuild.js';
import { TemplateCatalogue } from '../../../../src/projections/templates/template-catalogue.js';
import { templatesProjection } from '../../../../src/projections/templates/templates-projection.js';
import { testDatabases } from '../../../support/databases.js';

const logger = createLogger('silent');
const configDir = join(import.meta.dirname, '../../../../config');

const content = (overrides: Partial<TemplateContent> = {}): TemplateContent => ({
  subject: null,
  body_html: null,
  body_text: null,
  sms: null,
  push: null,
  sample_data: {},
  ...overrides,
});

async function domainError(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected a DomainError');
}

describe('shipped file templates', () => {
  it('all compile, and render their sample data in good French', async () => {
    const files = await loadConfigFiles(configDir);
    expect(Object.keys(files.templates)).toEqual(
      expect.arrayContaining(['promotional_email', 'menu_update', 'reservation_confirmation', 'reservation_reminder', 'promotional_sms', 'menu_update_push']),
    );
    const catalogue = new TemplateCatalogue(createKysely({} as never), files.templates);
    expect(catalogue.checkFileTemplates()).toEqual({});

    const render = async (id: string) => {
      const template = await catalogue.get(id, 0);
      return { template, out: template.render(template.content.sample_data) };
    };
    const reminder = await render('reservation_reminder');
    expect(reminder.template).toMatchObject({ kind: 'transactional', source: 'config', version: 0, channels: ['sms', 'push'] });
    expect(reminder.out.sms).toBe(
      'Le Vieux Moulin : rappel, votre table pour 2 personnes est réservée le mardi 24 novembre 2026 à 19:30. Un imprévu ? https://levieuxmoulin.fr/r/ABC123',
    );
    expect(reminder.out.push).toEqual({ title: "À tout à l'heure au Vieux Moulin", body: 'Votre table pour 2 personnes vous attend mardi 24 novembre à 19:30.' });

    const confirmation = await render('reservation_confirmation');
    expect(confirmation.template.channels).toEqual(['email', 'sms', 'push']);
    expect(confirmation.out.subject).toBe('Votre table au Vieux Moulin est réservée - mardi 24 novembre 2026');
    expect(confirmation.out.text).toContain('Nous avons le plaisir de vous confirmer votre table pour 4 personnes le mardi 24 novembre 2026 à 19:30.');
    expect(confirmation.out.text).toContain('Modifier ou annuler ma réservation (https://levieuxmoulin.fr/reservations/ABC123)');

    const promoSms = await render('promotional_sms');
    expect(promoSms.template.kind).toBe('marketing');
    expect(promoSms.out.sms).toMatch(/STOP au 36111$/);
    expect(promoSms.out.sms).toContain("Jusqu'au 27 avril 2027.");

    expect((await render('promotional_email')).out.text).toContain('Réservez maintenant (https://levieuxmoulin.fr/reserver)');
    expect((await render('menu_update')).out.html).toContain('<strong>Magret de canard grillé</strong> - 24€');
    expect((await render('menu_update_push')).out.push!.title).toBe('Nouveau menu au Vieux Moulin');

    // Every marketing SMS of the files carries the opt-out mention.
    for (const [id, definition] of Object.entries(files.templates)) {
      const template = await catalogue.get(id, 0);
      if (template.kind === 'marketing' && definition.sms) expect(definition.sms, id).toMatch(/\bSTOP\b/);
    }
  });
});

describe.each(testDatabases())('templates read model and catalogue on $name', (database) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database.cleanup());

  const setup = async (fileTemplates = {}) => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...templatesProjection.migrations }, sql.schema);
    cleanups.push(() => store.close());
    const handler = new CommandHandler(store, templateDecider, templateEvents);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date('2026-11-20T10:00:00Z') };
    const send = (command: TemplateCommand) => handler.handle(templateStreamId(command.template_id), command, context);
    const projector = new Projector(store, db, templatesProjection, logger, { batchSize: 3, retryDelayMs: 20 });
    cleanups.push(() => projector.stop());
    await projector.start();
    const caughtUp = async () => expect(await projector.waitFor((await store.headPosition())!, 5000)).toBe(true);
    const catalogue = new TemplateCatalogue(db, fileTemplates, { latestTtlMs: 0 });
    return { sql, store, db, send, projector, caughtUp, catalogue };
  };

  const publish = (template_id: string, c: TemplateContent, kind?: 'marketing' | 'transactional', at = '2026-11-20T10:00:00.000Z'): TemplateCommand => ({
    type: 'PublishTemplateVersion',
    template_id,
    kind,
    content: c,
    now: at,
  });

  it('keeps one row per template and every version', async () => {
    const s = await setup();
    await s.send(publish('reservation_reminder', content({ sms: 'v1 {{x}}' }), 'transactional'));
    await s.send(publish('reservation_reminder', content({ sms: 'v2 {{x}}', push: { title: 'T', body: 'B {{x}}' } })));
    await s.send(publish('menu-update', content({ subject: 'Menu', body_html: '<p>{{x}}</p>', sample_data: { x: 'Magret' } }), 'marketing'));
    await s.send({ type: 'ArchiveTemplate', template_id: 'menu-update', reason: 'fin de saison', now: '2026-11-21T10:00:00.000Z' });
    await s.caughtUp();

    const rows = await s.db.selectFrom('templates').selectAll().orderBy('id').execute();
    expect(rows).toMatchObject([
      { id: 'menu-update', kind: 'marketing', status: 'archived', latest_version: 1, channels: ['email'], revision: 1 },
      { id: 'reservation_reminder', kind: 'transactional', status: 'active', latest_version: 2, channels: ['sms', 'push'], revision: 1, archived_at: null },
    ]);
    expect(rows[0]!.archived_at).toEqual(new Date('2026-11-21T10:00:00.000Z'));
    const versions = await s.db.selectFrom('template_versions').selectAll().orderBy('template_id').orderBy('version').execute();
    expect(versions.map((v) => [v.template_id, v.version, v.sms ?? v.body_html])).toEqual([
      ['menu-update', 1, '<p>{{x}}</p>'],
      ['reservation_reminder', 1, 'v1 {{x}}'],
      ['reservation_reminder', 2, 'v2 {{x}}'],
    ]);
    expect(versions[0]!.sample_data).toEqual({ x: 'Magret' });
    expect(versions[2]!.push).toEqual({ title: 'T', body: 'B {{x}}' });

    await s.projector.stop();
    const live = { rows, versions };
    await rebuildProjection(s.store, s.db, templatesProjection, 2);
    expect(await s.db.selectFrom('templates').selectAll().orderBy('id').execute()).toEqual(live.rows);
    expect(await s.db.selectFrom('template_versions').selectAll().orderBy('template_id').orderBy('version').execute()).toEqual(live.versions);
  });

  it('serves file templates as version 0, overridden by API versions of the same id', async () => {
    const s = await setup({
      menu_update: { subject: 'Nouveau menu', body_html: '<p>Fichier {{dish}}</p>' },
      order_ready: { sms: 'Votre commande est prête, {{name}}' },
    });
    expect(await s.catalogue.has('order_ready')).toBe(true);
    const file = await s.catalogue.get('menu_update');
    expect(file).toMatchObject({ id: 'menu_update', version: 0, source: 'config', kind: 'marketing', channels: ['email'], published_at: null });
    expect(file.render({ dish: 'Magret' }).text).toBe('Fichier Magret');

    await s.send(publish('menu_update', content({ subject: 'Menu', body_html: '<p>API {{dish}}</p>' }), 'marketing'));
    await s.caughtUp();
    expect(await s.catalogue.has('menu_update')).toBe(true);
    const api = await s.catalogue.get('menu_update');
    expect(api).toMatchObject({ version: 1, source: 'api', kind: 'marketing' });
    expect(api.render({ dish: 'Magret' }).html).toBe('<p>API Magret</p>');
    expect((await s.catalogue.get('menu_update', 0)).render({ dish: 'x' }).html).toBe('<p>Fichier x</p>');

    expect(await s.catalogue.list()).toEqual([
      { id: 'menu_update', kind: 'marketing', status: 'active', latest_version: 1, source: 'api', channels: ['email'], has_default: true, updated_at: expect.any(String) },
      { id: 'order_ready', kind: 'marketing', status: 'active', latest_version: 0, source: 'config', channels: ['sms'], has_default: true, updated_at: null },
    ]);
    expect(await s.catalogue.describe('menu_update')).toMatchObject({ version: 1, latest_version: 1, source: 'api', has_default: true, revision: 0, status: 'active' });
    expect(await s.catalogue.describe('menu_update', 0)).toMatchObject({ version: 0, latest_version: 1, source: 'config' });
  });

  it('caches each version: a given version is served without the database once compiled', async () => {
    const s = await setup();
    await s.send(publish('reminder', content({ sms: 'v1 {{x}}' }), 'transactional'));
    await s.send(publish('reminder', content({ sms: 'v2 {{x}}' })));
    await s.caughtUp();
    const latest = await s.catalogue.get('reminder');
    expect(latest.version).toBe(2);
    expect(await s.catalogue.get('reminder')).toBe(latest);
    const v1 = await s.catalogue.get('reminder', 1);
    expect(v1.render({ x: 'a' }).sms).toBe('v1 a');
    // Versions are immutable: even with its row gone, a compiled version is still served from the cache.
    await s.db.deleteFrom('template_versions').execute();
    expect(await s.catalogue.get('reminder', 1)).toBe(v1);
    expect((await domainError(s.catalogue.get('reminder', 3))).code).toBe('template_version_not_found');
  });

  it('refuses unknown and archived templates (a given version of an archived one still renders)', async () => {
    const s = await setup();
    expect((await domainError(s.catalogue.get('nothing'))).code).toBe('template_not_found');
    expect((await domainError(s.catalogue.get('nothing', 2))).code).toBe('template_not_found');
    expect((await domainError(s.catalogue.describe('nothing'))).code).toBe('template_not_found');

    await s.send(publish('old_promo', content({ sms: 'Promo {{x}} STOP au 36111' }), 'marketing'));
    await s.send({ type: 'ArchiveTemplate', template_id: 'old_promo', now: '2026-11-21T10:00:00.000Z' });
    await s.caughtUp();
    expect((await domainError(s.catalogue.get('old_promo'))).code).toBe('template_archived');
    expect((await s.catalogue.get('old_promo', 1)).render({ x: 'y' }).sms).toBe('Promo y STOP au 36111');
    expect((await s.catalogue.get('old_promo', undefined, { allowArchived: true })).version).toBe(1);
    expect((await domainError(s.catalogue.get('old_promo', 0))).code).toBe('template_version_not_found');
    expect(await s.catalogue.has('old_promo')).toBe(false);
    expect(await s.catalogue.has('nothing')).toBe(false);
    expect(await s.catalogue.describe('old_promo')).toMatchObject({ status: 'archived', version: 1 });
  });

  it('renders with strict variables: the worker gets a TemplateRenderError, never a blank message', async () => {
    const s = await setup({ reservation_reminder: { sms: "Table pour {{plural guests 'personne' 'personnes'}} le {{date date 'long'}}" } });
    const template = await s.catalogue.get('reservation_reminder');
    expect(template.kind).toBe('transactional');
    let error: unknown;
    try {
      template.render({ guests: 2 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect(error).toMatchObject({ code: 'missing_variable', variable: 'date', templateId: 'reservation_reminder', version: 0, field: 'sms' });
  });

  it('reports a file template that does not compile when it is used', async () => {
    const s = await setup({ broken: { sms: '{{#if x}}' } });
    expect(s.catalogue.checkFileTemplates()).toEqual({ broken: [{ path: 'sms', message: expect.stringMatching(/Parse error/) }] });
    expect((await domainError(s.catalogue.get('broken'))).code).toBe('template_does_not_compile');
  });
});
