import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

/** A webhook secret is shown once: an Idempotency-Key must not keep a plain copy of the response to replay it. */
describe.each(testDatabases())('webhook registration with an Idempotency-Key on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database);
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('stores no idempotency record holding the secret', async () => {
    const secret = 'whsec_idempotency_check_0123456789';
    const response = await t.call('POST', '/api/communication/webhooks', {
      body: { url: 'http://127.0.0.1:9/hook', event_types: ['publication_success'], secret },
      headers: { 'idempotency-key': 'register-hook-1' },
    });
    expect(response.status).toBe(201);
    expect(response.body.secret).toBe(secret);
    const rows = await sql<{ body: string }>`select row_to_json(r)::text as body from idempotency_records r`.execute(t.app.db);
    expect(rows.rows.some((r) => r.body.includes(secret))).toBe(false);
  });
});
