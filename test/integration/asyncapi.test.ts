import YAML from 'yaml';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENTS_SUBJECT_PREFIX } from '../../src/integration/integration-event-stream.js';
import { jsonSchemaFileName } from '../../src/integration/json-schemas.js';
import { publicEvents } from '../../src/integration/public-events.js';

const file = 'docs/asyncapi.yaml';
const inboundSubjects = [
  'crm.customers.created',
  'crm.customers.updated',
  'crm.customers.deleted',
  'crm.consents.changed',
  'crm.segments.membership_changed',
  'iot.stock.level_changed',
  'central.conversions.recorded',
];


describe(file, async () => {
  const text = await readFile(file, 'utf8');

  it('is an AsyncAPI 3.0 document for a NATS server', () => {
    expect(text).toMatch(/^asyncapi: 3\.0\.0$/m);
    expect(text).toMatch(/^ {4}protocol: nats$/m);
  });

  it('has a channel for every public event, whose payload is the schema file of its current version', () => {
    for (const event of publicEvents) {
      expect(text, event.type).toContain(`address: ${DEFAULT_EVENTS_SUBJECT_PREFIX}.${event.name}\n`);
      expect(text, event.type).toContain(`$ref: ./schemas/${jsonSchemaFileName(event)}\n`);
    }
  });

  it('documents the subjects of the other modules that will be consumed', () => {
    for (const subject of inboundSubjects) expect(text).toContain(`address: ${subject}\n`);
  });

  it('is valid YAML', () => {
    const document = YAML.parse(text) as { channels: Record<string, { address: string }> };
    const addresses = Object.values(document.channels).map((channel) => channel.address);
    expect(addresses).toHaveLength(publicEvents.length + inboundSubjects.length);
  });
});
