import type { Kysely } from 'kysely';
import { templateChannels, type TemplateEvent } from '../../domain/template.js';
import { occurredAt, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Projection } from '../projection.js';
import { templatesMigrations, type TemplatesTable } from './templates-table.js';

type Row = TemplatesTable['templates'];
type VersionRow = TemplatesTable['template_versions'];

export const templateStreamPrefix = 'template-';

/**
 * Templates read model: a batch is folded in memory, then written with one multi-row upsert of `templates` and one
 * multi-row insert of `template_versions` (versions never change: a replayed version is skipped).
 */
export const templatesProjection: Projection = {
  name: 'templates',
  filter: { categories: ['template'] },
  migrations: templatesMigrations,

  async reset(trx) {
    const db = trx as Kysely<TemplatesTable>;
    await db.deleteFrom('template_versions').execute();
    await db.deleteFrom('templates').execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<TemplatesTable>;
    const ids = [...new Set(events.map(templateIdOf))];
    if (ids.length === 0) return;
    const existing = new Map((await db.selectFrom('templates').selectAll().where('id', 'in', ids).execute()).map((row) => [row.id, row]));
    const touched = new Map<string, Row>();
    const versions: VersionRow[] = [];
    for (const event of events) {
      const id = templateIdOf(event);
      const before = touched.get(id) ?? existing.get(id);
      const result = applyEvent(before, event);
      if (!result) continue;
      touched.set(id, result.row);
      if (result.version) versions.push(result.version);
    }
    const rows = [...touched.values()];
    // 10 columns × 2,000 rows stays far below PostgreSQL's 65,535 parameters per statement.
    for (let start = 0; start < rows.length; start += 2_000) await upsertTemplates(db, rows.slice(start, start + 2_000));
    for (let start = 0; start < versions.length; start += 1_000) {
      await db
        .insertInto('template_versions')
        .values(
          versions.slice(start, start + 1_000).map((v) => ({
            ...v,
            push: v.push === null ? null : JSON.stringify(v.push),
            sample_data: JSON.stringify(v.sample_data),
            channels: JSON.stringify(v.channels),
          })),
        )
        .onConflict((oc) => oc.columns(['template_id', 'version']).doNothing())
        .execute();
    }
  },
};

function templateIdOf(event: RecordedEvent): string {
  return event.streamId.slice(templateStreamPrefix.length);
}

function applyEvent(row: Row | undefined, recorded: RecordedEvent): { row: Row; version?: VersionRow } | undefined {
  const event = recorded as unknown as TemplateEvent;
  const at = occurredAt(recorded);
  switch (event.type) {
    case 'TemplateVersionPublished': {
      const data = event.data;
      const channels = templateChannels(data);
      return {
        row: {
          id: data.template_id,
          kind: data.kind,
          status: 'active',
          latest_version: data.version,
          channels,
          revision: recorded.revision,
          created_at: row?.created_at ?? at,
          updated_at: at,
          archived_at: null,
        },
        version: {
          template_id: data.template_id,
          version: data.version,
          kind: data.kind,
          subject: data.subject,
          body_html: data.body_html,
          body_text: data.body_text,
          sms: data.sms,
          push: data.push,
          sample_data: data.sample_data,
          channels,
          published_at: new Date(data.published_at),
        },
      };
    }
    case 'TemplateArchived':
      if (!row) return undefined;
      return { row: { ...row, status: 'archived', archived_at: new Date(event.data.archived_at), revision: recorded.revision, updated_at: at } };
    default:
      return undefined;
  }
}

async function upsertTemplates(db: Kysely<TemplatesTable>, rows: Row[]): Promise<void> {
  await db
    .insertInto('templates')
    .values(rows.map((row) => ({ ...row, channels: JSON.stringify(row.channels) })))
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        kind: eb.ref('excluded.kind'),
        status: eb.ref('excluded.status'),
        latest_version: eb.ref('excluded.latest_version'),
        channels: eb.ref('excluded.channels'),
        revision: eb.ref('excluded.revision'),
        updated_at: eb.ref('excluded.updated_at'),
        archived_at: eb.ref('excluded.archived_at'),
      })),
    )
    .execute();
}
