import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildJsonSchemas, JSON_SCHEMAS_DIR } from '../../src/integration/json-schemas.js';
import { publicEvents } from '../../src/integration/public-events.js';

const regenerate = 'run `npx tsx src/integration/write-json-schemas.ts` and review the diff (a public contract changed)';

describe('JSON Schemas of the integration events', () => {
  const generated = buildJsonSchemas();

  it('has one per public event, named <aggregate>.<event>.v<version>.json', () => {
    expect([...generated.keys()].sort()).toEqual(publicEvents.map((e) => `${e.name}.v${e.version}.json`).sort());
  });

  it(`are up to date in ${JSON_SCHEMAS_DIR}`, async () => {
    for (const [name, text] of generated) {
      const onDisk = await readFile(join(JSON_SCHEMAS_DIR, name), 'utf8').catch(() => null);
      expect(onDisk, `${JSON_SCHEMAS_DIR}/${name} is missing or out of date: ${regenerate}`).toBe(text);
    }
  });

  it('keep only older versions of current events besides', async () => {
    const current = new Map(publicEvents.map((e) => [e.name, e.version]));
    for (const name of await readdir(JSON_SCHEMAS_DIR)) {
      if (generated.has(name)) continue;
      const match = /^(.+)\.v(\d+)\.json$/.exec(name);
      const version = match ? current.get(match[1]!) : undefined;
      expect(version !== undefined && Number(match![2]) < version, `${JSON_SCHEMAS_DIR}/${name} belongs to no public event: delete it once no message of it can be in the stream`).toBe(true);
    }
  });

  it('describe the envelope and leave payloads open to added fields', () => {
    const schema = JSON.parse(generated.get('publication.platform_published.v1.json')!);
    expect(schema.required).toEqual(['id', 'type', 'schema_version', 'occurred_at', 'correlation_id', 'causation_id', 'aggregate_id', 'data']);
    expect(schema.properties.type.const).toBe('PlatformPublished');
    expect(schema.additionalProperties).toBeUndefined();
    expect(schema.properties.data.additionalProperties).toBeUndefined();
  });
});
