import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPgliteClient } from '../../../src/infrastructure/database/pglite-client.js';

describe('PGlite client', () => {
  it('creates its data directory and keeps data across restarts', async () => {
    const root = await mkdtemp(join(tmpdir(), 'comm-pglite-'));
    const dataDir = join(root, 'nested', 'pglite');
    try {
      const first = await createPgliteClient({ dataDir });
      await first.query('CREATE TABLE kept (value text)');
      await first.query('INSERT INTO kept VALUES ($1)', ['moulin']);
      await first.close();
      const second = await createPgliteClient({ dataDir });
      expect((await second.query<{ value: string }>('SELECT value FROM kept')).rows).toEqual([{ value: 'moulin' }]);
      await second.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('never interleaves statements of two transactions on its single connection', async () => {
    const client = await createPgliteClient();
    await client.query('CREATE TABLE counter (n int)');
    await client.query('INSERT INTO counter VALUES (0)');
    await Promise.all(
      Array.from({ length: 20 }, () =>
        client.transaction(async (tx) => {
          const { rows } = await tx.query<{ n: number }>('SELECT n FROM counter');
          await new Promise((resolve) => setTimeout(resolve, 1));
          await tx.query('UPDATE counter SET n = $1', [rows[0]!.n + 1]);
        }),
      ),
    );
    expect((await client.query<{ n: number }>('SELECT n FROM counter')).rows[0]!.n).toBe(20);
    await client.close();
  });
});
