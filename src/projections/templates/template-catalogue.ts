import type { Kysely } from 'kysely';
import { DomainError } from '../../domain/domain-error.js';
import type { NotificationChannel } from '../../domain/notification-events.js';
import { templateChannels, type TemplateContent, type TemplateKind, type TemplateStatus } from '../../domain/template.js';
import type { TemplateDefinition } from '../../infrastructure/config/config-files.js';
import { checkTemplateSource, TemplateEngine, type RenderedTemplate, type TemplateSourceProblem } from '../../platforms/notifications/templates/engine.js';
import type { TemplatesTable } from './templates-table.js';

/**
 * Where the notification worker, the preview route and the query routes find templates:
 *
 * - templates published through the API (the `templates` read model), versions 1, 2, 3…;
 * - the file templates of COMM_CONFIG_DIR/templates/*.json (the spec's format), as read-only "version 0" defaults. A
 *   template published through the API under the same id overrides the file: get(id) gives the latest API version,
 *   get(id, 0) still gives the file's text.
 *
 * The spec's file format has no kind: a file template is marketing (consent required) unless its id is listed in
 * `transactionalFileTemplates` (or in the `fileKinds` option). To give a file template another kind, publish it through
 * the API with that kind.
 *
 * Compiled versions are cached per template id and version (versions are immutable), so only get(id) without a version
 * reads the database (one primary-key lookup, for the latest version and the status).
 */

export type TemplateOrigin = 'config' | 'api';

export const transactionalFileTemplates: readonly string[] = ['reservation_confirmation', 'reservation_reminder'];

/** Example data for the shipped file templates (the spec's file format has no place for it): what previews render. */
export const fileTemplateSampleData: Readonly<Record<string, Record<string, unknown>>> = {
  promotional_email: {
    promo_title: 'Semaine de la pizza',
    customer: { first_name: 'Camille' },
    promo_description: 'Une pizza achetée, un dessert maison offert, du mardi au dimanche.',
    valid_until: '27 avril 2027',
    booking_link: 'https://levieuxmoulin.fr/reserver',
  },
  menu_update: {
    menu_items: [
      { name: 'Huîtres du bassin d’Arcachon', price: '14', description: 'Les six, citron et pain de seigle' },
      { name: 'Magret de canard grillé', price: '24', description: 'Pommes de terre sarladaises' },
    ],
  },
  reservation_confirmation: {
    customer: { first_name: 'Camille' },
    guests: 4,
    date: '2026-11-24T19:30:00+01:00',
    manage_link: 'https://levieuxmoulin.fr/reservations/ABC123',
  },
  reservation_reminder: { guests: 2, date: '2026-11-24T19:30:00+01:00', manage_link: 'https://levieuxmoulin.fr/r/ABC123' },
  promotional_sms: {
    promo_title: 'Semaine de la pizza',
    promo_description: 'Une pizza achetée, un dessert offert.',
    valid_until: '2027-04-27',
    booking_link: 'https://levieuxmoulin.fr/reserver',
  },
  menu_update_push: { highlight: 'Le magret de canard grillé' },
};

/** One version of a template, compiled: what the worker renders. */
export interface CatalogueTemplate {
  id: string;
  /** 0 for a file template. */
  version: number;
  kind: TemplateKind;
  source: TemplateOrigin;
  channels: NotificationChannel[];
  content: TemplateContent;
  /** null for a file template. */
  published_at: string | null;
  /**
   * Renders every field (subject, html, text, sms, push) with the recipient's data; throws TemplateRenderError
   * (missing_variable…). The sample data is never used here: pass content.sample_data explicitly for a preview.
   */
  render(data: Record<string, unknown>): RenderedTemplate;
}

/** One version with its template's current state: what the query routes show. */
export interface TemplateVersionView extends Omit<CatalogueTemplate, 'render'> {
  latest_version: number;
  status: TemplateStatus;
  /** A file template exists under this id (the API versions override it). */
  has_default: boolean;
  /** Revision of the template's stream (for If-Match), null for a file template. */
  revision: number | null;
}

export interface TemplateSummary {
  id: string;
  kind: TemplateKind;
  status: TemplateStatus;
  latest_version: number;
  source: TemplateOrigin;
  channels: NotificationChannel[];
  has_default: boolean;
  updated_at: string | null;
}

export interface TemplateCatalogueOptions {
  /** Kinds of file templates; default: transactionalFileTemplates are transactional, the others marketing. */
  fileKinds?: Record<string, TemplateKind>;
  /** Sample data of file templates; default fileTemplateSampleData. */
  fileSampleData?: Record<string, Record<string, unknown>>;
  engine?: TemplateEngine;
  /** Most compiled versions kept (default 1,000). */
  cacheSize?: number;
  /** How long a template's latest version is remembered (default 1,000 ms; 0: always look it up). */
  latestTtlMs?: number;
}

type VersionRow = TemplatesTable['template_versions'];

export class TemplateCatalogue {
  private readonly engine: TemplateEngine;
  private readonly files = new Map<string, Omit<CatalogueTemplate, 'render'>>();
  private readonly compiled = new Map<string, CatalogueTemplate>();
  private readonly latestTtlMs: number;
  private readonly latestCache = new Map<string, { row: { status: string; latest_version: number } | undefined; expires: number }>();
  private readonly cacheSize: number;

  constructor(
    private readonly db: Kysely<TemplatesTable>,
    fileTemplates: Record<string, TemplateDefinition> = {},
    options: TemplateCatalogueOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 1_000;
    this.latestTtlMs = options.latestTtlMs ?? 1_000;
    this.engine = options.engine ?? new TemplateEngine(this.cacheSize);
    const kinds = options.fileKinds ?? Object.fromEntries(transactionalFileTemplates.map((id) => [id, 'transactional' as const]));
    const samples = options.fileSampleData ?? fileTemplateSampleData;
    for (const [id, definition] of Object.entries(fileTemplates)) {
      const content: TemplateContent = {
        subject: definition.subject ?? null,
        body_html: definition.body_html ?? null,
        body_text: definition.body_text ?? null,
        sms: definition.sms ?? null,
        push: definition.push ? { title: definition.push.title, body: definition.push.body } : null,
        sample_data: samples[id] ?? {},
      };
      this.files.set(id, {
        id,
        version: 0,
        kind: kinds[id] ?? 'marketing',
        source: 'config',
        channels: templateChannels(content),
        content,
        published_at: null,
      });
    }
  }

  /**
   * A compiled version: the given one, or the latest (the latest API version, else the file template). Without a
   * version, an archived template is refused (template_archived) unless allowArchived; a given version is always
   * served (a notification requested before the archive still renders). Throws DomainError template_not_found,
   * template_version_not_found, template_archived, or template_does_not_compile (a broken file template).
   */
  async get(id: string, version?: number, options: { allowArchived?: boolean } = {}): Promise<CatalogueTemplate> {
    if (version === undefined) {
      const row = await this.latest(id);
      if (row) {
        if (row.status === 'archived' && !options.allowArchived) {
          throw new DomainError('template_archived', `Template ${id} is archived`, [
            { path: 'template_id', message: 'archived: publish a new version to use it again' },
          ]);
        }
        version = row.latest_version;
      } else {
        version = 0;
        if (!this.files.has(id)) throw notFound(id);
      }
    }
    const key = `${id}\u0000${version}`;
    const cached = this.compiled.get(key);
    if (cached) return cached;
    const found = version === 0 ? this.files.get(id) : await this.loadVersion(id, version);
    if (!found) throw versionNotFound(id, version, this.files.has(id) || (await this.exists(id)));
    const compiled = this.engine.compile(id, version, found.content);
    const template: CatalogueTemplate = { ...found, render: (data) => compiled.render(data) };
    this.compiled.set(key, template);
    while (this.compiled.size > this.cacheSize) this.compiled.delete(this.compiled.keys().next().value!);
    return template;
  }

  /**
   * The template's status and latest version, remembered for a second: a batch of a thousand notifications then
   * costs one lookup, and a newly published version is picked up within that second.
   */
  private async latest(id: string): Promise<{ status: string; latest_version: number } | undefined> {
    const hit = this.latestCache.get(id);
    if (hit && hit.expires > Date.now()) return hit.row;
    const ttl = this.latestTtlMs;
    const row = await this.db.selectFrom('templates').select(['status', 'latest_version']).where('id', '=', id).executeTakeFirst();
    if (ttl > 0) {
      if (this.latestCache.size > 10_000) this.latestCache.clear();
      this.latestCache.set(id, { row, expires: Date.now() + ttl });
    }
    return row;
  }

  /**
   * Whether get(id) would find a template: an active API template, or a file template with no API versions. Makes the
   * catalogue a TemplateDirectory for POST /notify.
   */
  async has(id: string): Promise<boolean> {
    return (await this.currentVersion(id)) !== null;
  }

  /** The version get(id) would serve: the latest active API version, else 0 for a file template; null if none. */
  async currentVersion(id: string): Promise<number | null> {
    const row = await this.latest(id);
    if (row) return row.status === 'active' ? row.latest_version : null;
    return this.files.has(id) ? 0 : null;
  }

  /** A version (default: the latest) with the template's state, archived or not; for the query routes. */
  async describe(id: string, version?: number): Promise<TemplateVersionView> {
    const row = await this.db.selectFrom('templates').selectAll().where('id', '=', id).executeTakeFirst();
    const file = this.files.get(id);
    if (!row && !file) throw notFound(id);
    const wanted = version ?? row?.latest_version ?? 0;
    const found = wanted === 0 ? file : await this.loadVersion(id, wanted);
    if (!found) throw versionNotFound(id, wanted, true);
    return {
      ...found,
      latest_version: row?.latest_version ?? 0,
      status: (row?.status as TemplateStatus | undefined) ?? 'active',
      has_default: file !== undefined,
      revision: row?.revision ?? null,
    };
  }

  /** Every template, API and file, by id. An API template hides the file template of the same id. */
  async list(): Promise<TemplateSummary[]> {
    const rows = await this.db.selectFrom('templates').selectAll().execute();
    const byId = new Map<string, TemplateSummary>();
    for (const file of this.files.values()) {
      byId.set(file.id, {
        id: file.id,
        kind: file.kind,
        status: 'active',
        latest_version: 0,
        source: 'config',
        channels: file.channels,
        has_default: true,
        updated_at: null,
      });
    }
    for (const row of rows) {
      byId.set(row.id, {
        id: row.id,
        kind: row.kind as TemplateKind,
        status: row.status as TemplateStatus,
        latest_version: row.latest_version,
        source: 'api',
        channels: row.channels as NotificationChannel[],
        has_default: this.files.has(row.id),
        updated_at: row.updated_at.toISOString(),
      });
    }
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Compile problems of the file templates, by id (empty when they all compile): for start-up checks and tests. */
  checkFileTemplates(): Record<string, TemplateSourceProblem[]> {
    const problems: Record<string, TemplateSourceProblem[]> = {};
    for (const [id, file] of this.files) {
      const found = checkTemplateSource(file.content);
      if (found.length > 0) problems[id] = found;
    }
    return problems;
  }

  private async exists(id: string): Promise<boolean> {
    return (await this.db.selectFrom('templates').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  private async loadVersion(id: string, version: number): Promise<Omit<CatalogueTemplate, 'render'> | undefined> {
    const row = await this.db
      .selectFrom('template_versions')
      .selectAll()
      .where('template_id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }
}

function fromRow(row: VersionRow): Omit<CatalogueTemplate, 'render'> {
  return {
    id: row.template_id,
    version: row.version,
    kind: row.kind as TemplateKind,
    source: 'api',
    channels: row.channels as NotificationChannel[],
    content: {
      subject: row.subject,
      body_html: row.body_html,
      body_text: row.body_text,
      sms: row.sms,
      push: (row.push as TemplateContent['push']) ?? null,
      sample_data: (row.sample_data as Record<string, unknown>) ?? {},
    },
    published_at: row.published_at.toISOString(),
  };
}

function notFound(id: string): DomainError {
  return new DomainError('template_not_found', `Template ${id} does not exist`, [{ path: 'template_id', message: 'no such template' }]);
}

function versionNotFound(id: string, version: number, templateExists: boolean): DomainError {
  if (!templateExists) return notFound(id);
  return new DomainError('template_version_not_found', `Template ${id} has no version ${version}`, [
    { path: 'version', message: version === 0 ? 'version 0 is the file template, and there is none for this id' : 'no such version' },
  ]);
}
