import { z } from 'zod';
import { envelopeSchemaFor } from './integration-envelope.js';
import { publicEvents, type PublicEvent } from './public-events.js';

/** Where the schema files live, relative to the repository root; docs/asyncapi.yaml refers to them. */
export const JSON_SCHEMAS_DIR = 'docs/schemas';

export function jsonSchemaFileName(event: Pick<PublicEvent, 'name' | 'version'>): string {
  return `${event.name}.v${event.version}.json`;
}

/**
 * The JSON Schema (draft-07, the dialect AsyncAPI 3 payloads use by default) of every public event's message body,
 * by file name, as the files in docs/schemas hold them.
 *
 * Objects are left open (no additionalProperties: false): a field may be added to a payload within a version, and
 * consumers ignore what they do not know. Removing, renaming or retyping a field takes a new version.
 */
export function buildJsonSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const event of publicEvents) {
    const schema = z.toJSONSchema(envelopeSchemaFor(event), {
      target: 'draft-7',
      io: 'output',
      override: ({ jsonSchema }) => {
        if (jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
      },
    });
    const document = {
      $schema: schema.$schema,
      $id: jsonSchemaFileName(event),
      title: `${event.type} v${event.version}`,
      description: `Body of the messages on communication.events.${event.name} with Schema-Version ${event.version}.`,
      ...schema,
    };
    files.set(jsonSchemaFileName(event), `${JSON.stringify(document, null, 2)}\n`);
  }
  return files;
}
