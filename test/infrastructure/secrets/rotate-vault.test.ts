import { randomUUID } from 'node:crypto';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import { Keyring } from '../../../src/infrastructure/secrets/keyring.js';
import { rotateVault } from '../../../src/infrastructure/secrets/rotate-vault.js';
import { SecretVault } from '../../../src/infrastructure/secrets/secret-vault.js';
import { secretsMigrations } from '../../../src/infrastructure/secrets/secrets-table.js';
import { rotateWebhookSecrets } from '../../../src/webhooks/webhook-secrets.js';
import { WebhookSubscriptions, webhookSubscriptionMigrations } from '../../../src/webhooks/webhook-subscriptions.js';
import { freshKey } from '../../support/encryption-keys.js';
import { testDatabases } from '../../support/databases.js';

/** Runs `between` once, after the rotation has read a row and before it writes it back: the window a put can land in. */
class PutBetweenReadAndWrite implements KyselyPlugin {
  private readonly rowReads = new Set<unknown>();
  private fired = false;
  constructor(private readonly between: () => Promise<void>) {}
  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'SelectQueryNode' && JSON.stringify(node).includes('"auth_tag"')) this.rowReads.add(queryId);
    return node;
  }
  async transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.rowReads.has(queryId) && !this.fired) {
      this.fired = true;
      await this.between();
    }
    return result;
  }
}

describe.each(testDatabases())('key rotation on $name', (database) => {
  let sql: SqlClient;
  let db: SharedDatabase;
  const oldKey = freshKey().key;
  const newKey = freshKey().key;
  const beforeRotation = new Keyring([oldKey]);
  const duringRotation = new Keyring([newKey, oldKey]);
  const afterRotation = new Keyring([newKey]);

  beforeAll(async () => {
    sql = await database.create();
    db = createKysely(sql);
    await migrateToLatest(db, { ...secretsMigrations, ...webhookSubscriptionMigrations }, sql.schema);
  });
  afterAll(async () => {
    await db.destroy();
    await database.cleanup();
  });
  beforeEach(async () => {
    await db.deleteFrom('secrets').execute();
    await db.deleteFrom('webhook_subscriptions').execute();
  });

  async function seed(count: number): Promise<Map<string, string>> {
    const vault = new SecretVault(db, beforeRotation);
    const values = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      const name = `platforms/p${String(i).padStart(3, '0')}/access_token`;
      values.set(name, `token-${i}-${randomUUID()}`);
      await vault.put(name, values.get(name)!, { metadata: { index: i }, expiresAt: i === 0 ? new Date(Date.now() + 3_600_000) : null });
    }
    return values;
  }

  it('re-encrypts every secret and webhook secret with the new key; the old key is no longer needed', async () => {
    const values = await seed(12);
    const before = await new SecretVault(db, beforeRotation).list();
    const webhooks = new WebhookSubscriptions(db, beforeRotation);
    const hook = await webhooks.create({ id: randomUUID(), url: 'https://crm.example.fr/hooks', event_types: ['engagement'], description: null, secret: 'whsec_rotate-me-123456' });

    expect(await rotateVault(db, duringRotation)).toEqual({ rotated: 12, alreadyCurrent: 0, unreadable: 0, contended: 0 });
    expect(await rotateWebhookSecrets(db, duringRotation)).toEqual({ resealed: 1, alreadyCurrent: 0, unreadable: 0 });

    const vault = new SecretVault(db, afterRotation);
    expect([...(await vault.countByKey())]).toEqual([[newKey.id, 12]]);
    for (const [name, value] of values) expect(await vault.get(name)).toBe(value);
    // What a rotation does not touch: metadata, expiry, the time of the last put.
    expect((await vault.list()).map(({ keyId: _, ...rest }) => rest)).toEqual(before.map(({ keyId: _, ...rest }) => rest));
    expect(await new WebhookSubscriptions(db, afterRotation).target(hook.id)).toEqual({ url: 'https://crm.example.fr/hooks', secret: 'whsec_rotate-me-123456' });

    expect(await rotateVault(db, duringRotation)).toEqual({ rotated: 0, alreadyCurrent: 12, unreadable: 0, contended: 0 });
    expect(await rotateWebhookSecrets(db, duringRotation)).toEqual({ resealed: 0, alreadyCurrent: 1, unreadable: 0 });
  });

  it('leaves what it cannot decrypt, and counts it', async () => {
    await seed(2);
    const stranger = new SecretVault(db, new Keyring([freshKey().key]));
    await stranger.put('platforms/lost/access_token', 'unrecoverable-token');
    expect(await rotateVault(db, duringRotation)).toEqual({ rotated: 2, alreadyCurrent: 0, unreadable: 1, contended: 0 });
  });

  it('never overwrites a put that lands between reading a row and writing it back', async () => {
    if (database.name === 'pglite') return; // one connection: nothing can land inside the rotation's transaction
    const values = await seed(3);
    const service = new SecretVault(db, duringRotation);
    const first = [...values.keys()][0]!;
    const plugin = new PutBetweenReadAndWrite(() => service.put(first, 'token-put-during-rotation'));
    const outcome = await rotateVault(db.withPlugin(plugin), duringRotation);
    expect(outcome).toEqual({ rotated: 2, alreadyCurrent: 1, unreadable: 0, contended: 0 });
    expect(await new SecretVault(db, afterRotation).get(first)).toBe('token-put-during-rotation');
  });

  it('loses no put made while it runs, from processes with the new key or still on the old one', async () => {
    const values = await seed(40);
    const names = [...values.keys()];
    const restarted = new SecretVault(db, duringRotation);
    const notYetRestarted = new SecretVault(db, beforeRotation);
    const writes = (async () => {
      for (let round = 0; round < 3; round++) {
        for (const [index, name] of names.entries()) {
          if (index % 3 === round) continue;
          const value = `token-round-${round}-${index}`;
          await (index % 2 === 0 ? restarted : notYetRestarted).put(name, value);
          values.set(name, value);
        }
      }
    })();
    const [outcome] = await Promise.all([rotateVault(db, duringRotation), writes]);
    expect(outcome.unreadable).toBe(0);

    const reader = new SecretVault(db, duringRotation);
    for (const [name, value] of values) expect(await reader.get(name)).toBe(value);
    // A second run, once every process has the new key, leaves nothing on the old one.
    await rotateVault(db, duringRotation);
    const vault = new SecretVault(db, afterRotation);
    for (const [name, value] of values) expect(await vault.get(name)).toBe(value);
  });
});
