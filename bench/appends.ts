import { randomUUID } from 'node:crypto';
import { createPostgresClient } from '../src/infrastructure/database/postgres-client.js';
import { createPostgresEventStore } from '../src/infrastructure/event-store/postgres-event-store.js';
import type { EventData } from '../src/infrastructure/event-store/event-store.js';

export interface AppendResultRow {
  eventsPerAppend: number;
  writers: number;
  appendsPerSecond: number;
  eventsPerSecond: number;
}

const event = (): EventData => ({
  id: randomUUID(),
  type: 'CampaignUpdated',
  data: { campaign_id: randomUUID(), changes: { budget: 120.5, name: 'Semaine de la pizza' } },
  metadata: { correlation_id: randomUUID(), causation_id: randomUUID(), actor: 'bench', timestamp: new Date().toISOString(), schema_version: 1 },
});

export async function benchAppends(url: string): Promise<AppendResultRow[]> {
  const sql = await createPostgresClient({ connectionString: url, maxConnections: 16 });
  const store = await createPostgresEventStore(sql);
  const rows: AppendResultRow[] = [];
  try {
    for (const [eventsPerAppend, writers, seconds] of [
      [1, 1, 5],
      [1, 16, 5],
      [100, 1, 5],
      [100, 16, 5],
    ] as const) {
      let appends = 0;
      const deadline = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: writers }, async () => {
          // Each writer appends to its own streams in turn, with the exact expected revision, as command handlers do.
          const stream = `bench-${randomUUID()}`;
          let revision = -1;
          while (performance.now() < deadline) {
            const batch = Array.from({ length: eventsPerAppend }, event);
            const result = await store.append(stream, batch, { expectedRevision: revision < 0 ? 'no_stream' : revision });
            revision = result.nextExpectedRevision;
            appends++;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      rows.push({
        eventsPerAppend,
        writers,
        appendsPerSecond: Math.round(appends / elapsed),
        eventsPerSecond: Math.round((appends * eventsPerAppend) / elapsed),
      });
    }
  } finally {
    await store.close();
    await sql.close();
  }
  return rows;
}
