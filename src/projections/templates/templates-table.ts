import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/**
 * The templates read model: `templates`, one row per template published through the API (its latest version and
 * status), and `template_versions`, every version (immutable, so rows are only ever inserted). File templates from
 * COMM_CONFIG_DIR are not stored here: the TemplateCatalogue adds them as version 0.
 */
export interface TemplatesTable {
  templates: {
    id: string;
    kind: string;
    status: string;
    latest_version: number;
    /** JSON array of the latest version's channels, e.g. ["email","sms"]. */
    channels: unknown;
    /** Revision of the template's stream (the ETag / If-Match of the command routes). */
    revision: number;
    created_at: Date;
    updated_at: Date;
    archived_at: Date | null;
  };
  template_versions: {
    template_id: string;
    version: number;
    kind: string;
    subject: string | null;
    body_html: string | null;
    body_text: string | null;
    sms: string | null;
    /** {title, body} or null. */
    push: unknown;
    sample_data: unknown;
    channels: unknown;
    published_at: Date;
  };
}

export const templatesMigrations: Record<string, Migration> = {
  '0140_templates_read_model': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('templates')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('latest_version', 'integer', (c) => c.notNull())
        .addColumn('channels', 'jsonb', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addColumn('archived_at', 'timestamptz')
        .execute();
      await db.schema
        .createTable('template_versions')
        .ifNotExists()
        .addColumn('template_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('body_html', 'text')
        .addColumn('body_text', 'text')
        .addColumn('sms', 'text')
        .addColumn('push', 'jsonb')
        .addColumn('sample_data', 'jsonb', (c) => c.notNull())
        .addColumn('channels', 'jsonb', (c) => c.notNull())
        .addColumn('published_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('template_versions_pkey', ['template_id', 'version'])
        .execute();
    },
  },
};
