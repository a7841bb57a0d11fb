/**
 * Writes docs/schemas/*.json from the code: npx tsx src/integration/write-json-schemas.ts (from the repository root).
 * Review the diff: it is a change to a public contract. Files of older versions are left in place, because messages of
 * those versions stay in the stream until they age out.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildJsonSchemas, JSON_SCHEMAS_DIR } from './json-schemas.js';

const schemas = buildJsonSchemas();
await mkdir(JSON_SCHEMAS_DIR, { recursive: true });
for (const [name, text] of schemas) await writeFile(join(JSON_SCHEMAS_DIR, name), text);
console.log(`${schemas.size} schemas written to ${JSON_SCHEMAS_DIR}`);
