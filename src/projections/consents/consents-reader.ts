import type { Kysely } from 'kysely';
import { consentStreamId, type SuppressionReason } from '../../domain/consent.js';
import { notificationChannels, type NotificationChannel } from '../../domain/notification.js';
import { MicroBatcher } from '../../infrastructure/batching/micro-batcher.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { SuppressionEntry } from './consents-projection.js';
import type { ConsentsTable } from './consents-table.js';

/** One (recipient, channel) as the consents read model shows it. */
export interface ConsentView {
  recipient: string;
  channel: NotificationChannel;
  /** null: never recorded (no consent, for marketing). */
  granted: boolean | null;
  /** Who recorded the current consent state ('crm', 'website_form', 'in_restaurant', 'unsubscribe_link'…). */
  source: string | null;
  consent_at: string | null;
  suppressed: boolean;
  /** The most restrictive active suppression. */
  suppression_reason: SuppressionReason | null;
  suppressions: SuppressionEntry[];
  updated_at: string;
  revision: number;
  /** The address was erased (GDPR): recipient no longer shows it, and no message goes to it. */
  erased: boolean;
}

/**
 * Reads the consents read model by recipient (looked up through the consent stream id, so any spelling of the address
 * finds its row). Also the ConsentLookup of the consent policy.
 */
export class ConsentsReader {
  private readonly db: Kysely<ConsentsTable>;

  constructor(db: SharedDatabase) {
    this.db = db as Kysely<ConsentsTable>;
  }

  /**
   * One (recipient, channel): the consent policy asks this for every message, so the lookups of concurrent messages
   * are gathered into one query.
   */
  find(recipient: string, channel: NotificationChannel): Promise<ConsentView | null> {
    return this.lookups.call(consentStreamId(recipient, channel));
  }

  private readonly lookups = new MicroBatcher<string, ConsentView | null>(async (ids) => {
    const rows = new Map((await this.db.selectFrom('consents').selectAll().where('id', 'in', [...new Set(ids)]).execute()).map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = rows.get(id);
      return { ok: true, value: row ? toView(row) : null };
    });
  });

  /** The rows of one recipient on the given channels (default: all), in channel order. */
  async findAll(recipient: string, channels: readonly NotificationChannel[] = notificationChannels): Promise<ConsentView[]> {
    const ids = channels.map((channel) => consentStreamId(recipient, channel));
    const rows = await this.db.selectFrom('consents').selectAll().where('id', 'in', ids).execute();
    return rows
      .map(toView)
      .sort((a, b) => notificationChannels.indexOf(a.channel) - notificationChannels.indexOf(b.channel));
  }
}

function toView(row: ConsentsTable['consents']): ConsentView {
  return {
    recipient: row.recipient,
    channel: row.channel as NotificationChannel,
    granted: row.granted,
    source: row.source,
    consent_at: row.consent_at ? row.consent_at.toISOString() : null,
    suppressed: row.suppressed,
    suppression_reason: row.suppression_reason as SuppressionReason | null,
    suppressions: row.suppressions as SuppressionEntry[],
    updated_at: row.updated_at.toISOString(),
    revision: row.revision,
    erased: row.erased_at !== null,
  };
}
