import { describe, expect, it } from 'vitest';
import { fold } from '../../src/domain/decider.js';
import {
  templateChannels,
  templateDecider,
  templateEvents,
  type TemplateCommand,
  type TemplateContent,
  type TemplateEvent,
  type TemplateKind,
} from '../../src/domain/template.js';
import { expectConformToCatalogue, given, randomGenerator, randomWalk, recording, run } from './given-when-then.js';

const template_id = 'reservation_reminder';
const now = '2026-11-20T10:00:00.000Z';
const later = '2026-11-21T10:00:00.000Z';

const content = (overrides: Partial<TemplateContent> = {}): TemplateContent => ({
  subject: null,
  body_html: null,
  body_text: null,
  sms: "Le Vieux Moulin : votre table pour {{plural guests 'personne' 'personnes'}} est réservée le {{date date 'long'}}.",
  push: null,
  sample_data: { guests: 2, date: '2026-11-24T19:30:00+01:00' },
  ...overrides,
});

const decider = recording(templateDecider);

/** kind 'unset': the command leaves the kind out (allowed after the first version). */
const publish = (c: TemplateContent = content(), kind: TemplateKind | 'unset' = 'transactional', at = now): TemplateCommand => ({
  type: 'PublishTemplateVersion',
  template_id,
  kind: kind === 'unset' ? undefined : kind,
  content: c,
  now: at,
});
const archive = (reason?: string, at = later): TemplateCommand => ({ type: 'ArchiveTemplate', template_id, reason, now: at });

const published = (version: number, c: TemplateContent = content(), kind: TemplateKind = 'transactional', at = now): TemplateEvent => ({
  type: 'TemplateVersionPublished',
  data: { template_id, version, kind, ...c, published_at: at },
});
const archived: TemplateEvent = { type: 'TemplateArchived', data: { template_id, archived_at: later, reason: '' } };

describe('template decider', () => {
  it('publishes version 1, then 2, 3… (1-based, immutable: each version is its own event)', () => {
    given(decider).when(publish()).then([published(1)]);
    const v2 = content({ sms: 'Le Vieux Moulin : à ce soir ! {{plural guests "couvert" "couverts"}}' });
    given(decider, [published(1)]).when(publish(v2, 'unset', later)).then([published(2, v2, 'transactional', later)]);
    const events = run(decider, [publish(), publish(v2), publish(content({ sms: 'v3 {{x}}' }))]);
    expect(events.map((e) => (e.type === 'TemplateVersionPublished' ? e.data.version : null))).toEqual([1, 2, 3]);
    const state = fold(templateDecider, events);
    expect(state).toMatchObject({ status: 'active', latest_version: 3, kind: 'transactional', latest: { sms: 'v3 {{x}}' } });
  });

  it('records nothing when the same content is published again (PUT is idempotent), whatever the key order', () => {
    given(decider, [published(1)]).when(publish()).then([]);
    const reordered = content({ sample_data: { date: '2026-11-24T19:30:00+01:00', guests: 2 } });
    given(decider, [published(1)]).when(publish(reordered)).then([]);
  });

  it('needs a kind for the first version, and never changes it', () => {
    given(decider).when(publish(content(), 'unset')).thenThrows('template_kind_required', [{ path: 'kind' }]);
    given(decider, [published(1)])
      .when(publish(content({ sms: 'autre {{x}}' }), 'marketing'))
      .thenThrows('template_kind_immutable', [{ path: 'kind' }]);
  });

  it('refuses a source that does not compile, naming the field', () => {
    const error = given(decider)
      .when(publish(content({ subject: 'Votre table', body_html: '<p>{{#if guests}}</p>', push: { title: '{{nope x}}', body: 'ok' } })))
      .thenThrows('template_does_not_compile', [{ path: 'body_html' }, { path: 'push.title' }]);
    expect(error.details.find((d) => d.path === 'push.title')!.message).toMatch(/unknown helper "nope"/);
  });

  it('requires a STOP mention in a marketing SMS, not in a transactional one', () => {
    const promo = content({ sms: 'Le Vieux Moulin : {{promo_title}}, réservez vite !' });
    given(decider).when(publish(promo, 'marketing')).thenThrows('sms_stop_mention_required', [{ path: 'sms' }]);
    const withStop = content({ sms: 'Le Vieux Moulin : {{promo_title}}, réservez vite ! STOP au 36111' });
    given(decider).when(publish(withStop, 'marketing')).then([published(1, withStop, 'marketing')]);
    given(decider).when(publish(promo, 'transactional')).then([published(1, promo)]);
  });

  it('requires content, and a subject with an e-mail body (and a body with a subject)', () => {
    given(decider).when(publish(content({ sms: null }))).thenThrows('template_has_no_content');
    given(decider).when(publish(content({ body_html: '<p>x</p>' }))).thenThrows('template_subject_required', [{ path: 'subject' }]);
    given(decider).when(publish(content({ subject: 'Sujet' }))).thenThrows('template_body_required', [{ path: 'body_html' }]);
  });

  it('refuses ids that are not slugs', () => {
    for (const id of ['Promo', 'promo email', '../x', '', 'x'.repeat(101)]) {
      given(decider).when({ ...publish(), template_id: id } as TemplateCommand).thenThrows('invalid_template_id');
    }
  });

  it('archives once; a template with no version cannot be archived; publishing again restores it', () => {
    given(decider).when(archive()).thenThrows('template_not_found');
    given(decider, [published(1)]).when(archive('fin de saison')).then([
      { type: 'TemplateArchived', data: { template_id, archived_at: later, reason: 'fin de saison' } },
    ]);
    given(decider, [published(1), archived]).when(archive()).then([]);
    // Same content after an archive: a new version, and the template is active again.
    given(decider, [published(1), archived]).when(publish()).then([published(2)]);
    expect(fold(templateDecider, [published(1), archived, published(2)])).toMatchObject({ status: 'active', latest_version: 2, archived_at: null });
  });

  it('derives the channels from the content', () => {
    expect(templateChannels(content())).toEqual(['sms']);
    expect(templateChannels(content({ subject: 's', body_text: 't', push: { title: 't', body: 'b' } }))).toEqual(['email', 'sms', 'push']);
    expect(templateChannels(content({ sms: null, subject: 's', body_html: '<p>h</p>' }))).toEqual(['email']);
  });

  it('survives random command sequences: versions grow by one, kind never changes, events match their schemas', () => {
    const random = randomGenerator(20261124);
    const contents = [
      content(),
      content({ sms: 'Le Vieux Moulin : {{promo}} STOP au 36111' }),
      content({ sms: null, subject: 'Menu', body_html: '<p>{{#each items}}{{name}}{{/each}}</p>' }),
      content({ sms: '{{#if}}' }),
      content({ sms: 'sans stop {{x}}' }),
    ];
    const events = randomWalk(
      templateDecider,
      (_state, step) =>
        random.int(5) === 0
          ? archive(undefined, new Date(Date.parse(now) + step * 1000).toISOString())
          : publish(random.pick(contents), random.pick(['marketing', 'transactional', 'unset'] as const), new Date(Date.parse(now) + step * 1000).toISOString()),
      300,
      (before, after, emitted) => {
        if (before.status !== 'none' && after.status !== 'none') expect(after.kind).toBe(before.kind);
        for (const event of emitted) {
          if (event.type === 'TemplateVersionPublished') {
            expect(event.data.version).toBe(before.status === 'none' ? 1 : before.latest_version + 1);
          }
        }
      },
    );
    expect(events.length).toBeGreaterThan(5);
    expectConformToCatalogue(templateEvents, [...events, ...decider.emitted]);
  });
});
