import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { Position } from '../infrastructure/event-store/event-store.js';

/** One row per projection: the position of the last event it applied (null before the first). */
export interface CheckpointsTable {
  projection_checkpoints: {
    name: string;
    commit_position: string | null;
    prepare_position: string | null;
    events_applied: string;
    last_event_at: Date | null;
    updated_at: Date;
  };
}

export const checkpointMigrations: Record<string, Migration> = {
  '0003_projection_checkpoints': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('projection_checkpoints')
        .ifNotExists()
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('commit_position', sql`numeric(20)`)
        .addColumn('prepare_position', sql`numeric(20)`)
        .addColumn('events_applied', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('last_event_at', 'timestamptz')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};

export interface Checkpoint {
  position: Position | null;
  eventsApplied: number;
  lastEventAt: Date | null;
}

type Row = CheckpointsTable['projection_checkpoints'];

export function toCheckpoint(row: Pick<Row, 'commit_position' | 'prepare_position' | 'events_applied' | 'last_event_at'>): Checkpoint {
  return {
    position:
      row.commit_position === null || row.prepare_position === null
        ? null
        : { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
    eventsApplied: Number(row.events_applied),
    lastEventAt: row.last_event_at,
  };
}

export async function ensureCheckpoint(db: SharedDatabase, name: string): Promise<void> {
  await typed(db)
    .insertInto('projection_checkpoints')
    .values({ name, commit_position: null, prepare_position: null, events_applied: '0', last_event_at: null, updated_at: new Date() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

export async function readCheckpoint(db: SharedDatabase, name: string): Promise<Checkpoint> {
  const row = await typed(db)
    .selectFrom('projection_checkpoints')
    .select(['commit_position', 'prepare_position', 'events_applied', 'last_event_at'])
    .where('name', '=', name)
    .executeTakeFirst();
  return row ? toCheckpoint(row) : { position: null, eventsApplied: 0, lastEventAt: null };
}

export async function readAllCheckpoints(db: SharedDatabase): Promise<Map<string, Checkpoint>> {
  const rows = await typed(db).selectFrom('projection_checkpoints').selectAll().execute();
  return new Map(rows.map((row) => [row.name, toCheckpoint(row)]));
}

export async function writeCheckpoint(db: SharedDatabase, name: string, checkpoint: Checkpoint): Promise<void> {
  await typed(db)
    .updateTable('projection_checkpoints')
    .set({
      commit_position: checkpoint.position ? checkpoint.position.commit.toString() : null,
      prepare_position: checkpoint.position ? checkpoint.position.prepare.toString() : null,
      events_applied: String(checkpoint.eventsApplied),
      last_event_at: checkpoint.lastEventAt,
      updated_at: new Date(),
    })
    .where('name', '=', name)
    .execute();
}

/**
 * Moves the checkpoint from `from` to the batch's end in one statement, if it still stands at `from`: the new
 * checkpoint, or null when another writer moved it (a rebuild, a second process). One round trip, and inside a
 * projection's transaction the row is locked only at the end of the batch, not from its start.
 */
export async function moveCheckpoint(
  db: SharedDatabase,
  name: string,
  from: Position | null,
  to: { position: Position; applied: number; lastEventAt: Date | null },
): Promise<Checkpoint | null> {
  const row = await typed(db)
    .updateTable('projection_checkpoints')
    .set({
      commit_position: to.position.commit.toString(),
      prepare_position: to.position.prepare.toString(),
      events_applied: sql<string>`events_applied + ${to.applied}`,
      last_event_at: to.lastEventAt,
      updated_at: new Date(),
    })
    .where('name', '=', name)
    .where((eb) =>
      from === null
        ? eb.and([eb('commit_position', 'is', null), eb('prepare_position', 'is', null)])
        : eb.and([eb('commit_position', '=', from.commit.toString()), eb('prepare_position', '=', from.prepare.toString())]),
    )
    .returning('events_applied')
    .executeTakeFirst();
  return row ? { position: to.position, eventsApplied: Number(row.events_applied), lastEventAt: to.lastEventAt } : null;
}

export function samePosition(a: Position | null, b: Position | null): boolean {
  if (a === null || b === null) return a === b;
  return a.commit === b.commit && a.prepare === b.prepare;
}

/** Callers hold a Kysely of their own database type (or a transaction); these functions only touch this table. */
function typed(db: SharedDatabase): Kysely<CheckpointsTable> {
  return db as Kysely<CheckpointsTable>;
}
