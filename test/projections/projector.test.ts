import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../src/infrastructure/database/kysely.js';
import type { RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { checkpointMigrations, ensureCheckpoint, moveCheckpoint, readCheckpoint, type Checkpoint } from '../../src/projections/checkpoints.js';
import type { Projection } from '../../src/projections/projection.js';
import { applyBatch } from '../../src/projections/projector.js';
import { testDatabases } from '../support/databases.js';

const start: Checkpoint = { position: null, eventsApplied: 0, lastEventAt: null };

function event(commit: number): RecordedEvent {
  return {
    id: randomUUID(),
    streamId: `thing-${commit}`,
    revision: 0,
    type: 'ThingHappened',
    data: { n: commit },
    metadata: {},
    position: { commit: BigInt(commit), prepare: BigInt(commit) },
    createdAt: new Date(Date.UTC(2026, 11, 1, 12, 0, commit)),
  };
}

/** Writes one row per event; `fail` makes apply throw after writing. */
function rowsProjection(fail = false): Projection {
  return {
    name: 'rows',
    filter: {},
    migrations: {},
    reset: async (trx) => void (await sql`DELETE FROM projected_rows`.execute(trx)),
    async apply(events: RecordedEvent[], trx: SharedDatabase) {
      for (const e of events) await sql`INSERT INTO projected_rows (id) VALUES (${e.id})`.execute(trx);
      if (fail) throw new Error('apply failed');
    },
  };
}

describe.each(testDatabases())('applyBatch on $name', (database) => {
  afterAll(() => database.cleanup());

  const setup = async () => {
    const client = await database.create();
    const db = createKysely(client);
    await migrateToLatest(db, checkpointMigrations, client.schema);
    await sql`CREATE TABLE projected_rows (id text PRIMARY KEY)`.execute(db);
    await ensureCheckpoint(db, 'rows');
    const rows = async () => (await sql<{ n: string }>`SELECT count(*) AS n FROM projected_rows`.execute(db)).rows[0]!.n;
    return { db, rows };
  };

  it('applies a batch and moves the checkpoint to its last event, counting the events applied', async () => {
    const { db, rows } = await setup();
    const first = await applyBatch(db, rowsProjection(), start, [event(1), event(2)]);
    const second = await applyBatch(db, rowsProjection(), first!, [event(3)]);
    expect(second).toEqual({ position: { commit: 3n, prepare: 3n }, eventsApplied: 3, lastEventAt: event(3).createdAt });
    expect(await readCheckpoint(db, 'rows')).toEqual(second);
    expect(Number(await rows())).toBe(3);
  });

  it('rolls the batch back and answers null when another writer moved the checkpoint meanwhile', async () => {
    const { db, rows } = await setup();
    const first = await applyBatch(db, rowsProjection(), start, [event(1)]);
    // Another process applied the next batch (or a rebuild started over) since this follower read the checkpoint.
    await moveCheckpoint(db, 'rows', first!.position, { position: { commit: 2n, prepare: 2n }, applied: 1, lastEventAt: null });
    expect(await applyBatch(db, rowsProjection(), first!, [event(2)])).toBeNull();
    expect(Number(await rows())).toBe(1);
    expect((await readCheckpoint(db, 'rows')).position).toEqual({ commit: 2n, prepare: 2n });
  });

  it('answers null when apply failed because the checkpoint moved, and rethrows a failure of its own', async () => {
    const { db, rows } = await setup();
    await expect(applyBatch(db, rowsProjection(true), start, [event(1)])).rejects.toThrow('apply failed');
    expect(Number(await rows())).toBe(0);
    expect((await readCheckpoint(db, 'rows')).position).toBeNull();

    await moveCheckpoint(db, 'rows', null, { position: { commit: 5n, prepare: 5n }, applied: 5, lastEventAt: null });
    expect(await applyBatch(db, rowsProjection(true), start, [event(1)])).toBeNull();
    expect(Number(await rows())).toBe(0);
  });
});
