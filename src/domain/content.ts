import { z } from 'zod';
import type { Decider } from './decider.js';
import { DomainError } from './domain-error.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';

/**
 * Content: a reusable piece of content (title, body, media, metadata) with A/B variations
 * (spec "Modèle de données principal").
 * Lifecycle: active → archived; nothing changes after archive (archiving again records nothing).
 * `version` starts at 1 and is bumped by each revision of title/body/media/metadata; adding or removing a variation
 * does not bump it (variations are alternatives to the current version, not a new version of it).
 * Variation weights are relative (0..100 each, no constraint on their sum; 0 pauses a variation).
 */

export const contentStatuses = ['active', 'archived'] as const;
export type ContentStatus = (typeof contentStatuses)[number];

export const mediaTypes = ['image', 'video'] as const;
export const MAX_VARIATIONS = 10;

export const mediaSchema = z.object({
  url: z.httpUrl().max(2_000),
  type: z.enum(mediaTypes),
  alt_text: z.string().max(1_000).default(''),
});
export type Media = z.infer<typeof mediaSchema>;

const contentFieldTypes = {
  title: z.string().trim().min(1).max(300),
  body: z.string().max(20_000),
  media: z.array(mediaSchema).max(20),
  metadata: z.record(z.string(), z.unknown()),
};

export const contentFieldsSchema = z.object({
  ...contentFieldTypes,
  body: contentFieldTypes.body.default(''),
  media: contentFieldTypes.media.default([]),
  metadata: contentFieldTypes.metadata.default({}),
});
export type ContentFields = z.infer<typeof contentFieldsSchema>;

/** No defaults here: a revision names only what changes. */
export const contentRevisionSchema = z.object(contentFieldTypes).partial();
export type ContentRevision = z.infer<typeof contentRevisionSchema>;

/** A variation overrides some of title / body / media; what it leaves out comes from the content. */
export const variationSchema = z.object({
  variation_id: z.string().trim().min(1).max(100),
  label: z.string().trim().min(1).max(200),
  title: contentFieldTypes.title.optional(),
  body: contentFieldTypes.body.optional(),
  media: contentFieldTypes.media.optional(),
  weight: z.number().int().min(0).max(100),
});
export type Variation = z.infer<typeof variationSchema>;

const timestamp = z.iso.datetime({ offset: true });

// ---- events -------------------------------------------------------------------------------------------------------

export const ContentCreated = defineEvent(
  'ContentCreated',
  1,
  contentFieldsSchema.extend({ content_id: z.uuid(), version: z.literal(1), created_at: timestamp }),
);
export const ContentRevised = defineEvent(
  'ContentRevised',
  1,
  z.object({ content_id: z.uuid(), changes: contentRevisionSchema, version: z.number().int().min(2), revised_at: timestamp }),
);
export const ContentVariationAdded = defineEvent(
  'ContentVariationAdded',
  1,
  z.object({ content_id: z.uuid(), variation: variationSchema, added_at: timestamp }),
);
export const ContentVariationRemoved = defineEvent(
  'ContentVariationRemoved',
  1,
  z.object({ content_id: z.uuid(), variation_id: z.string().min(1).max(100), removed_at: timestamp }),
);
export const ContentArchived = defineEvent(
  'ContentArchived',
  1,
  z.object({ content_id: z.uuid(), reason: z.string().max(1_000).default(''), archived_at: timestamp }),
);

export const contentEvents = {
  ContentCreated,
  ContentRevised,
  ContentVariationAdded,
  ContentVariationRemoved,
  ContentArchived,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type ContentEvent = EventOf<(typeof contentEvents)[keyof typeof contentEvents]>;

// ---- commands -----------------------------------------------------------------------------------------------------

/** `now` is given by the caller: deciders read no clock. */
export type ContentCommand =
  | { type: 'CreateContent'; content_id: string; fields: ContentFields; now: string }
  | { type: 'ReviseContent'; content_id: string; changes: ContentRevision; now: string }
  | { type: 'AddVariation'; content_id: string; variation: Variation; now: string }
  | { type: 'RemoveVariation'; content_id: string; variation_id: string; now: string }
  | { type: 'ArchiveContent'; content_id: string; reason?: string; now: string };

// ---- state --------------------------------------------------------------------------------------------------------

export type ContentState =
  | { status: 'none' }
  | ({
      status: ContentStatus;
      content_id: string;
      version: number;
      variations: Variation[];
      created_at: string;
      revised_at: string | null;
      archived_at: string | null;
    } & ContentFields);
type ExistingState = Exclude<ContentState, { status: 'none' }>;

export const contentDecider: Decider<ContentCommand, ContentEvent, ContentState> = {
  initialState: () => ({ status: 'none' }),
  decide,
  evolve,
};

function decide(command: ContentCommand, state: ContentState): ContentEvent[] {
  const content_id = command.content_id;
  const now = command.now;
  if (command.type === 'CreateContent') {
    if (state.status !== 'none') {
      throw new DomainError('content_already_exists', `Content ${content_id} already exists`);
    }
    assertNotEmpty(command.fields);
    return [{ type: 'ContentCreated', data: { content_id, ...command.fields, version: 1, created_at: now } }];
  }
  if (state.status === 'none') {
    throw new DomainError('content_not_found', `Content ${content_id} does not exist`);
  }
  if (command.type === 'ArchiveContent') {
    if (state.status === 'archived') return [];
    return [{ type: 'ContentArchived', data: { content_id, reason: command.reason ?? '', archived_at: now } }];
  }
  if (state.status === 'archived') {
    throw new DomainError('content_archived', 'An archived content cannot be changed', [
      { path: 'status', message: 'is archived' },
    ]);
  }
  switch (command.type) {
    case 'ReviseContent': {
      const changes = onlyChanged(state, command.changes);
      if (Object.keys(changes).length === 0) return [];
      assertNotEmpty({ ...state, ...changes });
      return [{ type: 'ContentRevised', data: { content_id, changes, version: state.version + 1, revised_at: now } }];
    }
    case 'AddVariation':
      assertVariationCanBeAdded(state, command.variation);
      return [{ type: 'ContentVariationAdded', data: { content_id, variation: command.variation, added_at: now } }];
    case 'RemoveVariation':
      if (!state.variations.some((v) => v.variation_id === command.variation_id)) {
        throw new DomainError('variation_not_found', `Variation ${command.variation_id} does not exist`, [
          { path: 'variation_id', message: 'no such variation' },
        ]);
      }
      return [{ type: 'ContentVariationRemoved', data: { content_id, variation_id: command.variation_id, removed_at: now } }];
  }
}

function evolve(state: ContentState, event: ContentEvent): ContentState {
  if (event.type === 'ContentCreated') {
    return { ...event.data, status: 'active', variations: [], revised_at: null, archived_at: null };
  }
  if (state.status === 'none') return state;
  return evolveExisting(state, event);
}

function evolveExisting(state: ExistingState, event: Exclude<ContentEvent, { type: 'ContentCreated' }>): ExistingState {
  switch (event.type) {
    case 'ContentRevised':
      return { ...state, ...definedOnly(event.data.changes), version: event.data.version, revised_at: event.data.revised_at };
    case 'ContentVariationAdded':
      return { ...state, variations: [...state.variations, event.data.variation] };
    case 'ContentVariationRemoved':
      return { ...state, variations: state.variations.filter((v) => v.variation_id !== event.data.variation_id) };
    case 'ContentArchived':
      return { ...state, status: 'archived', archived_at: event.data.archived_at };
  }
}

// ---- rules --------------------------------------------------------------------------------------------------------

/** A content needs something to show: a body or at least one medium. */
function assertNotEmpty(fields: Pick<ContentFields, 'body' | 'media'>): void {
  if (fields.body.trim() === '' && fields.media.length === 0) {
    throw new DomainError('content_empty', 'A content needs a body or at least one medium', [
      { path: 'body', message: 'a body or at least one media item is required' },
    ]);
  }
}

function assertVariationCanBeAdded(state: ExistingState, variation: Variation): void {
  if (state.variations.some((v) => v.variation_id === variation.variation_id)) {
    throw new DomainError('duplicate_variation', `Variation ${variation.variation_id} already exists`, [
      { path: 'variation.variation_id', message: 'must be unique within the content' },
    ]);
  }
  if (state.variations.length >= MAX_VARIATIONS) {
    throw new DomainError('too_many_variations', `A content has at most ${MAX_VARIATIONS} variations`, [
      { path: 'variations', message: `at most ${MAX_VARIATIONS}` },
    ]);
  }
  if (!(Number.isInteger(variation.weight) && variation.weight >= 0 && variation.weight <= 100)) {
    throw new DomainError('invalid_variation_weight', 'A variation weight is an integer from 0 to 100', [
      { path: 'variation.weight', message: 'must be an integer from 0 to 100' },
    ]);
  }
  if (variation.title === undefined && variation.body === undefined && variation.media === undefined) {
    throw new DomainError('variation_empty', 'A variation must override the title, the body or the media', [
      { path: 'variation', message: 'title, body or media is required' },
    ]);
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Keeps the fields whose value differs from the state, so a revision that changes nothing records nothing. */
function onlyChanged(state: ContentFields, changes: ContentRevision): ContentRevision {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (JSON.stringify(value) !== JSON.stringify(state[key as keyof ContentFields])) result[key] = value;
  }
  return result as ContentRevision;
}
