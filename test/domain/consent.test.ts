import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  activeSuppressions,
  consentDecider,
  consentEvents,
  consentStreamId,
  normalizeRecipient,
  suppressionBlocks,
  suppressionReasons,
  type ConsentCommand,
  type ConsentEvent,
  type ConsentState,
  type SuppressionReason,
} from '../../src/domain/consent.js';
import { fold } from '../../src/domain/decider.js';
import type { NotificationChannel } from '../../src/domain/notification.js';
import { expectConformToCatalogue, given, randomGenerator, randomWalk, recording } from './given-when-then.js';

const NOW = '2026-05-04T09:00:00.000Z';
const LATER = '2026-05-05T09:00:00.000Z';
const email = 'marie.dupont@example.fr';
const channel: NotificationChannel = 'email';

const decider = recording(consentDecider);

// ---- events -------------------------------------------------------------------------------------------------------

const subject = (source: string, at = NOW) => ({ recipient: email, channel, source, at });
const granted = (source = 'website_form', at = NOW): ConsentEvent => ({ type: 'ConsentGranted', data: subject(source, at) });
const withdrawn = (source = 'crm', at = NOW): ConsentEvent => ({ type: 'ConsentWithdrawn', data: subject(source, at) });
const suppressed = (reason: SuppressionReason, source = 'sendgrid', at = NOW): ConsentEvent => ({
  type: 'RecipientSuppressed',
  data: { ...subject(source, at), reason },
});
const released = (reason: SuppressionReason, source = 'crm', at = NOW): ConsentEvent => ({
  type: 'SuppressionReleased',
  data: { ...subject(source, at), reason },
});

// ---- commands -----------------------------------------------------------------------------------------------------

const record = (isGranted: boolean, source = isGranted ? 'website_form' : 'crm', recipient = email): ConsentCommand => ({
  type: 'RecordConsent',
  recipient,
  channel,
  granted: isGranted,
  source,
  now: NOW,
});
const suppress = (reason: SuppressionReason, source = 'sendgrid'): ConsentCommand => ({
  type: 'SuppressRecipient',
  recipient: email,
  channel,
  reason,
  source,
  now: NOW,
});
const release = (reason: SuppressionReason, source = 'crm'): ConsentCommand => ({
  type: 'ReleaseSuppression',
  recipient: email,
  channel,
  reason,
  source,
  now: NOW,
});

const stateOf = (events: ConsentEvent[]): ConsentState => fold(consentDecider, events);

// ---- tests --------------------------------------------------------------------------------------------------------

describe('consentStreamId', () => {
  it('is consent-<sha256 of the lower-cased, trimmed recipient + ":" + channel>: no personal data in the name', () => {
    const expected = createHash('sha256').update('marie.dupont@example.fr:email').digest('hex');
    expect(consentStreamId(email, 'email')).toBe(`consent-${expected}`);
    expect(consentStreamId('  Marie.Dupont@EXAMPLE.fr ', 'email')).toBe(`consent-${expected}`);
    expect(consentStreamId(email, 'email')).not.toContain('marie');
  });

  it('differs per channel and per recipient', () => {
    expect(consentStreamId('+33612345678', 'sms')).not.toBe(consentStreamId('+33612345678', 'push'));
    expect(consentStreamId('a@example.fr', 'email')).not.toBe(consentStreamId('b@example.fr', 'email'));
  });

  it('names a stream of the consent category (the part before the first dash)', () => {
    expect(consentStreamId(email, 'email').split('-')).toHaveLength(2);
  });
});

describe('RecordConsent', () => {
  it('records a first consent, normalizing the recipient', () => {
    given(decider).when(record(true, 'website_form', '  Marie.Dupont@Example.FR')).then([granted()]);
    expect(stateOf([granted()])).toEqual({
      recipient: email,
      channel,
      consent: { granted: true, source: 'website_form', at: NOW },
      suppressions: {},
    });
  });

  it('records a first refusal too (proof that it was asked)', () => {
    given(decider).when(record(false)).then([withdrawn()]);
    expect(stateOf([withdrawn()]).consent).toEqual({ granted: false, source: 'crm', at: NOW });
  });

  it('records a withdrawal, then a new grant', () => {
    given(decider, [granted()]).when(record(false, 'in_restaurant')).then([withdrawn('in_restaurant')]);
    given(decider, [granted(), withdrawn()]).when(record(true, 'crm')).then([granted('crm')]);
  });

  it('records nothing when the same state is recorded again, whatever the source', () => {
    given(decider, [granted()]).when(record(true, 'crm')).then([]);
    given(decider, [granted(), withdrawn()]).when(record(false, 'website_form')).then([]);
  });

  it.each<[NotificationChannel, string]>([
    ['email', 'not-an-email'],
    ['sms', '0612345678'],
    ['push', '   '],
  ])('refuses a %s recipient %j', (recipientChannel, recipient) => {
    given(decider)
      .when({ ...record(true), channel: recipientChannel, recipient })
      .thenThrows('invalid_recipient', [{ path: 'recipient' }]);
  });

  it('refuses an empty or too long source', () => {
    given(decider).when(record(true, '  ')).thenThrows('invalid_source', [{ path: 'source' }]);
    given(decider).when(record(true, 'x'.repeat(101))).thenThrows('invalid_source');
  });

  it('refuses a command for another recipient than the stream holds', () => {
    given(decider, [granted()]).when(record(true, 'crm', 'jean@example.fr')).thenThrows('consent_stream_mismatch');
    given(decider, [granted()]).when({ ...record(true), channel: 'sms', recipient: '+33612345678' }).thenThrows('consent_stream_mismatch');
  });
});

describe('SuppressRecipient', () => {
  it.each(['hard_bounce', 'spam_report'] as const)('suppresses the address (%s) without touching consent', (reason) => {
    given(decider, [granted()]).when(suppress(reason)).then([suppressed(reason)]);
    expect(stateOf([granted(), suppressed(reason)])).toMatchObject({
      consent: { granted: true },
      suppressions: { [reason]: { source: 'sendgrid', at: NOW } },
    });
  });

  it.each(['unsubscribe', 'stop'] as const)('an opt-out (%s) also withdraws consent, in the same append', (reason) => {
    given(decider, [granted()]).when(suppress(reason, 'unsubscribe_link')).then([suppressed(reason, 'unsubscribe_link'), withdrawn('unsubscribe_link')]);
    given(decider).when(suppress(reason, 'twilio')).then([suppressed(reason, 'twilio'), withdrawn('twilio')]);
  });

  it('an opt-out does not withdraw a consent already withdrawn', () => {
    given(decider, [granted(), withdrawn()]).when(suppress('stop', 'twilio')).then([suppressed('stop', 'twilio')]);
  });

  it('records nothing when the same reason is suppressed again', () => {
    given(decider, [suppressed('hard_bounce')]).when(suppress('hard_bounce', 'mailjet')).then([]);
    given(decider, [granted(), suppressed('unsubscribe'), withdrawn()]).when(suppress('unsubscribe')).then([]);
  });

  it('an unsubscribe after consent was granted again withdraws it again', () => {
    given(decider, [suppressed('unsubscribe'), withdrawn(), granted('crm')]).when(suppress('unsubscribe')).then([withdrawn('sendgrid')]);
  });

  it('keeps several reasons at once, most restrictive first', () => {
    const events = [suppressed('unsubscribe'), withdrawn(), suppressed('hard_bounce')];
    given(decider, [suppressed('unsubscribe'), withdrawn()]).when(suppress('hard_bounce')).then([suppressed('hard_bounce')]);
    expect(activeSuppressions(stateOf(events))).toEqual(['hard_bounce', 'unsubscribe']);
  });

  it('validates the recipient as RecordConsent does', () => {
    given(decider).when({ ...suppress('hard_bounce'), recipient: 'nope' }).thenThrows('invalid_recipient');
  });
});

describe('ReleaseSuppression', () => {
  it('lifts one reason and keeps the others', () => {
    const before = [suppressed('unsubscribe'), suppressed('hard_bounce')];
    given(decider, before).when(release('hard_bounce')).then([released('hard_bounce')]);
    expect(activeSuppressions(stateOf([...before, released('hard_bounce')]))).toEqual(['unsubscribe']);
  });

  it('records nothing for a reason that is not active', () => {
    given(decider).when(release('stop')).then([]);
    given(decider, [suppressed('stop'), released('stop')]).when(release('stop')).then([]);
  });

  it('granting consent does not lift a suppression: re-subscribing needs an explicit release', () => {
    const events = [granted(), suppressed('unsubscribe'), withdrawn(), granted('crm', LATER)];
    expect(stateOf(events)).toMatchObject({ consent: { granted: true, source: 'crm' } });
    expect(activeSuppressions(stateOf(events))).toEqual(['unsubscribe']);
  });
});

describe('suppressionBlocks', () => {
  it('hard_bounce and spam_report block every message; unsubscribe and stop only marketing', () => {
    expect(suppressionReasons.map((r) => [r, suppressionBlocks(r, 'transactional'), suppressionBlocks(r, 'marketing')])).toEqual([
      ['unsubscribe', false, true],
      ['hard_bounce', true, true],
      ['stop', false, true],
      ['spam_report', true, true],
    ]);
  });
});

describe('EraseRecipient', () => {
  const erase: ConsentCommand = { type: 'EraseRecipient', recipient: ` ${email.toUpperCase()} `, channel, source: 'crm', now: LATER };
  const hash = createHash('sha256').update(`${email}:email`).digest('hex');
  const erased: ConsentEvent = { type: 'RecipientErased', data: { recipient_hash: hash, channel, source: 'crm', at: LATER } };

  it('records the erasure with the hash of the address, never the address', () => {
    const [event] = given(decider, [granted(), suppressed('unsubscribe')]).when(erase).then([erased]);
    expect(JSON.stringify(event)).not.toContain('marie');
    expect(consentStreamId(email, channel)).toBe(`consent-${hash}`);
    expect(stateOf([granted(), suppressed('unsubscribe'), erased])).toMatchObject({ consent: null, suppressions: {}, erased: { source: 'crm', at: LATER } });
  });

  it('erases an address never seen before too', () => {
    given(decider, []).when(erase).then([erased]);
  });

  it('refuses a consent granted again afterwards, and records nothing else with the address', () => {
    given(decider, [granted(), erased]).when(record(true)).thenThrows('recipient_erased', [{ path: 'recipient' }]);
    given(decider, [granted(), erased]).when(record(false)).then([]);
    given(decider, [erased]).when(suppress('hard_bounce')).then([]);
    given(decider, [erased]).when(release('unsubscribe')).then([]);
    given(decider, [erased]).when(erase).then([]);
  });
});

describe('consent events', () => {
  it('normalizeRecipient trims and lower-cases', () => {
    expect(normalizeRecipient('  A@B.FR \n')).toBe('a@b.fr');
  });

  it('random command sequences keep the invariants, and every event conforms to the catalogue', () => {
    const events = [1, 2, 3].flatMap((seed) => {
      const random = randomGenerator(seed);
      const next = (): ConsentCommand =>
        random.pick([
          () => record(random.int(2) === 1, random.pick(['crm', 'website_form', 'in_restaurant'])),
          () => suppress(random.pick(suppressionReasons)),
          () => release(random.pick(suppressionReasons)),
        ])();
      return Array.from({ length: 50 }, () =>
        randomWalk(consentDecider, next, 20, (before, after, emitted) => {
          // The stream keeps its subject; an opt-out always leaves consent withdrawn.
          if (emitted.length > 0) expect([after.recipient, after.channel]).toEqual([email, channel]);
          for (const reason of ['unsubscribe', 'stop'] as const) {
            if (!before.suppressions[reason] && after.suppressions[reason]) expect(after.consent?.granted).toBe(false);
          }
        }),
      ).flat();
    });
    // Erasure ends a stream's story: EraseRecipient's own tests emit it.
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(Object.keys(consentEvents).filter((type) => type !== 'RecipientErased')));
    expect(new Set(decider.emitted.map((e) => e.type))).toEqual(new Set(Object.keys(consentEvents)));
    expectConformToCatalogue(consentEvents, [...events, ...decider.emitted]);
  });
});
