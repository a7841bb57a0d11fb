import { describe, expect, it } from 'vitest';
import {
  contentDecider,
  contentEvents,
  contentFieldsSchema,
  MAX_VARIATIONS,
  variationSchema,
  type ContentCommand,
  type ContentEvent,
  type ContentFields,
  type ContentRevision,
  type ContentState,
  type Variation,
} from '../../src/domain/content.js';
import { fold } from '../../src/domain/decider.js';
import { expectConformToCatalogue, given, randomGenerator, randomWalk, recording, run } from './given-when-then.js';

const content_id = 'e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9';
const NOW = '2025-04-20T10:00:00.000Z';
const LATER = '2025-04-21T10:00:00.000Z';

const fields: ContentFields = contentFieldsSchema.parse({
  title: 'Menu de printemps',
  body: 'Asperges, agneau de pré-salé et fraises de Gariguette.',
  media: [{ url: 'https://example.com/images/printemps.jpg', type: 'image', alt_text: 'Assiette d’asperges' }],
  metadata: { tone: 'chaleureux', language: 'fr' },
});
const variation = (variation_id: string, changes: Partial<Variation> = {}): Variation =>
  variationSchema.parse({ variation_id, label: `Variation ${variation_id}`, body: `Texte ${variation_id}`, weight: 50, ...changes });

const decider = recording(contentDecider);

// ---- events -------------------------------------------------------------------------------------------------------

const created = (changes: Partial<ContentFields> = {}): ContentEvent => ({
  type: 'ContentCreated',
  data: { content_id, ...fields, ...changes, version: 1, created_at: NOW },
});
const revised = (changes: ContentRevision, version = 2): ContentEvent => ({
  type: 'ContentRevised',
  data: { content_id, changes, version, revised_at: LATER },
});
const added = (v: Variation): ContentEvent => ({ type: 'ContentVariationAdded', data: { content_id, variation: v, added_at: LATER } });
const removed = (variation_id: string): ContentEvent => ({
  type: 'ContentVariationRemoved',
  data: { content_id, variation_id, removed_at: LATER },
});
const archived = (reason = ''): ContentEvent => ({ type: 'ContentArchived', data: { content_id, reason, archived_at: LATER } });
const tenVariations = Array.from({ length: MAX_VARIATIONS }, (_, i) => added(variation(`v${i + 1}`)));

// ---- commands -----------------------------------------------------------------------------------------------------

const create = (f: ContentFields = fields): ContentCommand => ({ type: 'CreateContent', content_id, fields: f, now: NOW });
const revise = (changes: ContentRevision): ContentCommand => ({ type: 'ReviseContent', content_id, changes, now: LATER });
const addVariation = (v: Variation): ContentCommand => ({ type: 'AddVariation', content_id, variation: v, now: LATER });
const removeVariation = (variation_id: string): ContentCommand => ({ type: 'RemoveVariation', content_id, variation_id, now: LATER });
const archive = (reason?: string): ContentCommand => ({ type: 'ArchiveContent', content_id, reason, now: LATER });

const stateOf = (events: ContentEvent[]) => {
  const state = fold(contentDecider, events);
  if (state.status === 'none') throw new Error('no content');
  return state;
};

// ---- tests --------------------------------------------------------------------------------------------------------

describe('CreateContent', () => {
  it('creates an active content at version 1, without variations', () => {
    given(decider).when(create()).then([created()]);
    expect(stateOf([created()])).toMatchObject({ status: 'active', version: 1, variations: [], title: fields.title });
  });

  it('accepts media without a body', () => {
    given(decider).when(create({ ...fields, body: '' })).then([created({ body: '' })]);
  });

  it.each(['', ' \n '])('needs a body or a medium (body %j, no media)', (body) => {
    given(decider)
      .when(create({ ...fields, body, media: [] }))
      .thenThrows('content_empty', [{ path: 'body' }]);
  });

  it('refuses a content that already exists', () => {
    given(decider, [created()]).when(create()).thenThrows('content_already_exists');
  });
});

describe('a content that does not exist', () => {
  it.each<ContentCommand>([revise({ title: 'x' }), addVariation(variation('a')), removeVariation('a'), archive()])(
    'cannot take $type',
    (command) => {
      given(decider).when(command).thenThrows('content_not_found');
    },
  );
});

describe('ReviseContent', () => {
  it('records only the fields that change, as version 2', () => {
    given(decider, [created()])
      .when(revise({ title: 'Menu de printemps 2025', body: fields.body, metadata: { tone: 'festif' } }))
      .then([revised({ title: 'Menu de printemps 2025', metadata: { tone: 'festif' } })]);
    expect(stateOf([created(), revised({ title: 'Menu de printemps 2025' })])).toMatchObject({
      title: 'Menu de printemps 2025',
      body: fields.body,
      version: 2,
      revised_at: LATER,
    });
  });

  it('bumps the version at each revision', () => {
    given(decider, [created(), revised({ title: 'Deux' })])
      .when(revise({ body: 'Trois' }))
      .then([revised({ body: 'Trois' }, 3)]);
  });

  it('records nothing (and keeps the version) when nothing changes', () => {
    given(decider, [created()]).when(revise({ title: fields.title, media: fields.media, metadata: fields.metadata })).then([]);
  });

  it('ignores fields given as undefined', () => {
    given(decider, [created()]).when(revise({ title: undefined })).then([]);
  });

  it('can drop the body when media remain', () => {
    given(decider, [created()]).when(revise({ body: '' })).then([revised({ body: '' })]);
  });

  it('cannot leave the content without body nor media', () => {
    given(decider, [created({ body: '' })]).when(revise({ media: [] })).thenThrows('content_empty');
  });

  it('cannot revise an archived content', () => {
    given(decider, [created(), archived()])
      .when(revise({ title: 'x' }))
      .thenThrows('content_archived', [{ path: 'status', message: 'is archived' }]);
  });
});

describe('AddVariation', () => {
  it('adds a variation, without bumping the version', () => {
    const v = variation('court', { title: 'Printemps !', body: 'Court', weight: 30 });
    given(decider, [created()]).when(addVariation(v)).then([added(v)]);
    expect(stateOf([created(), added(v)])).toMatchObject({ variations: [v], version: 1 });
  });

  it.each([0, 100])('accepts a weight of %i', (weight) => {
    given(decider, [created()])
      .when(addVariation(variation('a', { weight })))
      .then([added(variation('a', { weight }))]);
  });

  it.each([-1, 101, 12.5, Number.NaN])('refuses a weight of %d', (weight) => {
    given(decider, [created()])
      .when(addVariation({ ...variation('a'), weight }))
      .thenThrows('invalid_variation_weight', [{ path: 'variation.weight' }]);
  });

  it('refuses a variation_id already used', () => {
    given(decider, [created(), added(variation('a'))])
      .when(addVariation(variation('a', { body: 'autre' })))
      .thenThrows('duplicate_variation', [{ path: 'variation.variation_id' }]);
  });

  it(`refuses more than ${MAX_VARIATIONS} variations`, () => {
    given(decider, [created(), ...tenVariations])
      .when(addVariation(variation('v11')))
      .thenThrows('too_many_variations', [{ path: 'variations' }]);
  });

  it('needs a title, a body or media to override', () => {
    const { body: _body, ...bare } = variation('vide');
    given(decider, [created()]).when(addVariation(bare)).thenThrows('variation_empty', [{ path: 'variation' }]);
  });

  it('accepts a variation that only overrides the media', () => {
    const { body: _body, ...rest } = variation('photo');
    const v: Variation = { ...rest, media: [{ url: 'https://example.com/images/autre.jpg', type: 'image', alt_text: '' }] };
    given(decider, [created()]).when(addVariation(v)).then([added(v)]);
  });

  it('cannot add to an archived content', () => {
    given(decider, [created(), archived()]).when(addVariation(variation('a'))).thenThrows('content_archived');
  });
});

describe('RemoveVariation', () => {
  it('removes a variation', () => {
    given(decider, [created(), added(variation('a')), added(variation('b'))]).when(removeVariation('a')).then([removed('a')]);
    expect(stateOf([created(), added(variation('a')), added(variation('b')), removed('a')]).variations).toEqual([variation('b')]);
  });

  it('frees its id and its slot', () => {
    const events = [created(), ...tenVariations, removed('v3')];
    given(decider, events).when(addVariation(variation('v3'))).then([added(variation('v3'))]);
  });

  it('refuses an unknown variation', () => {
    given(decider, [created(), added(variation('a')), removed('a')])
      .when(removeVariation('a'))
      .thenThrows('variation_not_found', [{ path: 'variation_id' }]);
  });

  it('cannot remove from an archived content', () => {
    given(decider, [created(), added(variation('a')), archived()]).when(removeVariation('a')).thenThrows('content_archived');
  });
});

describe('ArchiveContent', () => {
  it('archives the content, with the reason', () => {
    given(decider, [created()]).when(archive('fin de saison')).then([archived('fin de saison')]);
    expect(stateOf([created(), archived()])).toMatchObject({ status: 'archived', archived_at: LATER });
  });

  it('records an empty reason when none is given', () => {
    given(decider, [created()]).when(archive()).then([archived()]);
  });

  it('records nothing when already archived', () => {
    given(decider, [created(), archived()]).when(archive('encore')).then([]);
  });
});

describe('content events', () => {
  it('every event the decider emits parses with its catalogue schema', () => {
    const journey = run(contentDecider, [
      create(),
      revise({ title: 'Nouveau titre', metadata: { tone: 'festif' } }),
      addVariation(variation('a', { title: 'Titre A' })),
      removeVariation('a'),
      archive('fin de saison'),
    ]);
    const all = [...journey, ...decider.emitted];
    expect(new Set(all.map((e) => e.type))).toEqual(new Set(Object.keys(contentEvents)));
    expectConformToCatalogue(contentEvents, all);
  });
});

describe('random command sequences', () => {
  it.each([1, 2, 3, 4])('keep the invariants (seed %i, 30 contents)', (seed) => {
    const random = randomGenerator(seed);
    const ids = Array.from({ length: 14 }, (_, i) => `v${i}`);
    const next = (state: ContentState): ContentCommand => {
      if (state.status === 'none') return create();
      const kind = random.int(40);
      if (kind === 0) return archive();
      if (kind < 8) return revise(random.pick([{ title: `Titre ${random.int(3)}` }, { body: random.pick(['', 'x']) }, { media: [] }]));
      if (kind < 26) return addVariation({ ...variation(random.pick(ids)), weight: random.pick([0, 50, 100, 101]) });
      return removeVariation(random.pick(ids));
    };
    const check = (before: ContentState, after: ContentState): void => {
      if (after.status === 'none') return;
      expect(after.variations.length).toBeLessThanOrEqual(MAX_VARIATIONS);
      expect(new Set(after.variations.map((v) => v.variation_id)).size).toBe(after.variations.length);
      expect(after.body.trim() !== '' || after.media.length > 0).toBe(true);
      if (before.status === 'archived') expect(after).toEqual(before);
      if (before.status !== 'none') expect(after.version).toBeGreaterThanOrEqual(before.version);
    };
    const events = Array.from({ length: 30 }, () => randomWalk(contentDecider, next, 60, check)).flat();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(Object.keys(contentEvents)));
    expectConformToCatalogue(contentEvents, events);
  });
});
