import type { z } from 'zod';

/**
 * Every domain event has a zod schema and a schema version. The version travels in the event's metadata
 * (schema_version) so that a later version can upcast what older events stored.
 */
export interface EventDefinition<Type extends string = string, Schema extends z.ZodType = z.ZodType> {
  type: Type;
  version: number;
  schema: Schema;
}

export function defineEvent<Type extends string, Schema extends z.ZodType>(
  type: Type,
  version: number,
  schema: Schema,
): EventDefinition<Type, Schema> {
  return { type, version, schema };
}

/** Maps event type → definition, for one aggregate's events. */
export type EventCatalogue = Record<string, EventDefinition>;
