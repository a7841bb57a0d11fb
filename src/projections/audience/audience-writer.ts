import type { Kysely, Transaction } from 'kysely';
import { normalizeRecipient } from '../../domain/consent.js';
import { recipientProblem } from '../../domain/notification.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { recipientHash } from '../../integration/recipient-hash.js';
import type { AudienceTables } from './audience-table.js';

type Db = Kysely<AudienceTables>;
type Trx = Transaction<AudienceTables>;

export interface CustomerFields {
  customer_id: string;
  email: string | null;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  language: string;
}

/** The addresses a customer had, as the CRM gave them: what an erasure must block. */
export interface CustomerAddresses {
  email: string | null;
  phone: string | null;
}

/** Members added or removed in one statement: well under PostgreSQL's 65,535 parameters. */
const MEMBERS_PER_STATEMENT = 5_000;

/**
 * Writes CRM events into the audience read model (audience-table.ts). Each write runs in one transaction with the
 * event's inbox row, and does nothing when the event id is already in the inbox.
 */
export class AudienceWriter {
  private readonly db: Db;

  constructor(db: SharedDatabase) {
    this.db = db as Db;
  }

  async seen(eventId: string): Promise<boolean> {
    return (await this.db.selectFrom('crm_inbox').select('event_id').where('event_id', '=', eventId).executeTakeFirst()) !== undefined;
  }

  /** Records an event that changes nothing here (a consent, recorded in its consent stream), so it is not handled twice. */
  async markSeen(event: { id: string; type: string }): Promise<void> {
    await this.once(event, async () => undefined);
  }

  /**
   * The customer as the CRM now has it (created or updated: the full state, not a diff). Ignored when the row reflects
   * a later CRM event already, or when the customer was erased.
   */
  async upsertCustomer(event: { id: string; type: string; occurred_at: string }, customer: CustomerFields): Promise<void> {
    const email = usable('email', customer.email);
    const phone = usable('sms', customer.phone);
    const row = {
      customer_id: customer.customer_id,
      email,
      phone,
      first_name: customer.first_name,
      last_name: customer.last_name,
      language: customer.language.trim().toLowerCase() || null,
      email_hash: email ? recipientHash(email, 'email') : null,
      phone_hash: phone ? recipientHash(phone, 'sms') : null,
      crm_updated_at: new Date(event.occurred_at),
      erased_at: null,
      updated_at: new Date(),
    };
    await this.once(event, async (trx) => {
      await trx
        .insertInto('audience_customers')
        .values(row)
        .onConflict((oc) =>
          oc
            .column('customer_id')
            .doUpdateSet((eb) => ({
              email: eb.ref('excluded.email'),
              phone: eb.ref('excluded.phone'),
              first_name: eb.ref('excluded.first_name'),
              last_name: eb.ref('excluded.last_name'),
              language: eb.ref('excluded.language'),
              email_hash: eb.ref('excluded.email_hash'),
              phone_hash: eb.ref('excluded.phone_hash'),
              crm_updated_at: eb.ref('excluded.crm_updated_at'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
            .where('audience_customers.erased_at', 'is', null)
            .whereRef('audience_customers.crm_updated_at', '<=', 'excluded.crm_updated_at'),
        )
        .execute();
    });
  }

  /** The customer's current addresses (before an erasure), or null when unknown or already erased. */
  async addressesOf(customerId: string): Promise<CustomerAddresses | null> {
    const row = await this.db
      .selectFrom('audience_customers')
      .select(['email', 'phone'])
      .where('customer_id', '=', customerId)
      .where('erased_at', 'is', null)
      .executeTakeFirst();
    return row ?? null;
  }

  /**
   * The customer left the CRM: every personal field is cleared and the customer leaves every segment. The row stays,
   * with erased_at, as a tombstone (also for a customer never seen here, so a late "created" cannot bring it back).
   */
  async eraseCustomer(event: { id: string; type: string; occurred_at: string }, customerId: string): Promise<void> {
    const now = new Date();
    await this.once(event, async (trx) => {
      await trx
        .insertInto('audience_customers')
        .values({
          customer_id: customerId,
          email: null,
          phone: null,
          first_name: null,
          last_name: null,
          language: null,
          email_hash: null,
          phone_hash: null,
          crm_updated_at: new Date(event.occurred_at),
          erased_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.column('customer_id').doUpdateSet({
            email: null,
            phone: null,
            first_name: null,
            last_name: null,
            language: null,
            email_hash: null,
            phone_hash: null,
            erased_at: now,
            updated_at: now,
          }),
        )
        .execute();
      await trx.deleteFrom('audience_segment_members').where('customer_id', '=', customerId).execute();
    });
  }

  async changeSegment(
    event: { id: string; type: string },
    change: { segment_id: string; segment_name: string; added: string[]; removed: string[]; at: string },
  ): Promise<void> {
    await this.once(event, async (trx) => {
      await trx
        .insertInto('audience_segments')
        .values({ segment_id: change.segment_id, name: change.segment_name, updated_at: new Date(change.at) })
        .onConflict((oc) => oc.column('segment_id').doUpdateSet((eb) => ({ name: eb.ref('excluded.name'), updated_at: eb.ref('excluded.updated_at') })))
        .execute();
      const removed = new Set(change.removed);
      // Someone erased may still be listed by a CRM export made before the erasure: they stay out.
      const added = change.added.filter((id) => !removed.has(id));
      for (let start = 0; start < added.length; start += MEMBERS_PER_STATEMENT) {
        const chunk = added.slice(start, start + MEMBERS_PER_STATEMENT);
        const erased = new Set(
          (await trx.selectFrom('audience_customers').select('customer_id').where('customer_id', 'in', chunk).where('erased_at', 'is not', null).execute()).map(
            (r) => r.customer_id,
          ),
        );
        const members = chunk.filter((id) => !erased.has(id)).map((customer_id) => ({ segment_id: change.segment_id, customer_id }));
        if (members.length > 0) await trx.insertInto('audience_segment_members').values(members).onConflict((oc) => oc.doNothing()).execute();
      }
      const leaving = [...removed];
      for (let start = 0; start < leaving.length; start += MEMBERS_PER_STATEMENT) {
        await trx
          .deleteFrom('audience_segment_members')
          .where('segment_id', '=', change.segment_id)
          .where('customer_id', 'in', leaving.slice(start, start + MEMBERS_PER_STATEMENT))
          .execute();
      }
    });
  }

  /** Runs the effect and records the event id in one transaction, unless the id is recorded already. */
  private async once(event: { id: string; type: string }, effect: (trx: Trx) => Promise<void>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('crm_inbox')
        .values({ event_id: event.id, type: event.type, received_at: new Date() })
        .onConflict((oc) => oc.column('event_id').doNothing())
        .returning('event_id')
        .executeTakeFirst();
      if (!inserted) return;
      await effect(trx);
    });
  }
}

/** A malformed address is kept out of the audience (it could never be sent to); the rest of the customer is kept. */
function usable(channel: 'email' | 'sms', address: string | null): string | null {
  if (address === null) return null;
  const normalized = channel === 'email' ? normalizeRecipient(address) : address.trim();
  return recipientProblem(channel, normalized) === null ? normalized : null;
}
