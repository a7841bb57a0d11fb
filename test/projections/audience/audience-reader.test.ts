import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetAudience } from '../../../src/domain/campaign-audience.js';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../../src/infrastructure/database/kysely.js';
import { AudienceReader, type AudienceMember } from '../../../src/projections/audience/audience-reader.js';
import { audienceMigrations } from '../../../src/projections/audience/audience-table.js';
import { AudienceWriter } from '../../../src/projections/audience/audience-writer.js';
import { testDatabases } from '../../support/databases.js';

// Keyset pages of a campaign's audience: together, exactly the members a single read gives, in customer id order,
// whatever the page size, the filters and the erasures.

for (const database of testDatabases()) {
  describe(`audience pages on ${database.name}`, () => {
    let db: SharedDatabase;
    const segment = 'fideles';
    const customers = Array.from({ length: 57 }, (_, i) => ({
      customer_id: randomUUID(),
      email: i % 7 === 3 ? null : `client${i}@example.fr`,
      phone: i % 2 === 0 ? `+3361234${String(i).padStart(4, '0')}` : null,
      first_name: `Client ${i}`,
      last_name: null,
      language: i % 3 === 0 ? 'en' : 'fr',
    }));
    // Every customer but a few is in the segment; two of the members are erased.
    const members = customers.filter((_, i) => i % 11 !== 5);
    const erased = [members[4]!.customer_id, members[20]!.customer_id];
    const outsider = customers.find((_, i) => i % 11 === 5)!;

    beforeAll(async () => {
      const sql = await database.create();
      db = createKysely(sql);
      await migrateToLatest(db, audienceMigrations, sql.schema);
      const writer = new AudienceWriter(db);
      const at = new Date().toISOString();
      for (const customer of customers) await writer.upsertCustomer({ id: randomUUID(), type: 'crm.customer.created', occurred_at: at }, customer);
      await writer.changeSegment({ id: randomUUID(), type: 'crm.segments.membership_changed' }, { segment_id: segment, segment_name: 'Fidèles', added: members.map((m) => m.customer_id), removed: [], at });
      for (const id of erased) await writer.eraseCustomer({ id: randomUUID(), type: 'crm.customer.deleted', occurred_at: at }, id);
    }, 60_000);

    afterAll(async () => {
      await database.cleanup();
    });

    const allPages = async (audience: TargetAudience, channel: 'email' | 'sms', size: number) => {
      const reader = new AudienceReader(db);
      const pages: AudienceMember[][] = [];
      let after: string | null = null;
      for (;;) {
        const page = await reader.page(audience, channel, after, size);
        pages.push(page);
        if (page.length < size) return pages;
        after = page.at(-1)!.customer_id;
      }
    };

    const expectedOf = (audience: TargetAudience, channel: 'email' | 'sms') =>
      customers
        .filter((c) => !erased.includes(c.customer_id))
        .filter((c) => (audience.segment !== undefined && members.includes(c)) || (audience.customers ?? []).includes(c.customer_id))
        .filter((c) => !audience.filters?.language || c.language === audience.filters.language)
        .filter((c) => (channel === 'email' ? c.email : c.phone) !== null)
        .map((c) => ({ customer_id: c.customer_id, address: channel === 'email' ? c.email : c.phone }))
        .sort((a, b) => (a.customer_id < b.customer_id ? -1 : 1));

    const audiences: TargetAudience[] = [
      { segment },
      { segment, filters: { language: 'fr' } },
      { segment, customers: [outsider.customer_id] },
      { customers: [outsider.customer_id, members[0]!.customer_id, erased[0]!] },
    ];

    for (const [index, audience] of audiences.entries()) {
      for (const channel of ['email', 'sms'] as const) {
        it(`pages audience ${index} on ${channel} in any page size to exactly its members`, async () => {
          const expected = expectedOf(audience, channel);
          for (const size of [1, 4, 10, 1_000]) {
            const pages = await allPages(audience, channel, size);
            expect(pages.every((page) => page.length <= size)).toBe(true);
            expect(pages.flat().map((m) => ({ customer_id: m.customer_id, address: m.address }))).toEqual(expected);
          }
        });
      }
    }
  });
}
