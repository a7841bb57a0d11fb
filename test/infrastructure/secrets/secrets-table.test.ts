import { afterAll, describe, expect, it } from 'vitest';
import { apiKeyMigrations } from '../../../src/infrastructure/auth/api-keys.js';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { idempotencyMigrations } from '../../../src/infrastructure/http/idempotency.js';
import { secretsMigrations } from '../../../src/infrastructure/secrets/secrets-table.js';
import { checkpointMigrations } from '../../../src/projections/checkpoints.js';
import { webhookDeliveryMigrations } from '../../../src/webhooks/webhook-deliveries.js';
import { webhookSubscriptionMigrations } from '../../../src/webhooks/webhook-subscriptions.js';
import { testDatabases } from '../../support/databases.js';

describe.each(testDatabases())('the secrets migration on $name', (database) => {
  afterAll(async () => {
    await database.cleanup();
  });

  it('runs on a database that already ran migrations named after it (an upgraded deployment)', async () => {
    const sql = await database.create();
    const db = createKysely(sql);
    try {
      const deployed = { ...apiKeyMigrations, ...idempotencyMigrations, ...checkpointMigrations, ...webhookSubscriptionMigrations, ...webhookDeliveryMigrations };
      await migrateToLatest(db, deployed, sql.schema);
      await migrateToLatest(db, { ...deployed, ...secretsMigrations }, sql.schema);
      const { rows } = await sql.query<{ found: string | null }>("SELECT to_regclass('secrets')::text AS found");
      expect(rows[0]?.found).not.toBeNull();
    } finally {
      await db.destroy();
    }
  });
});
