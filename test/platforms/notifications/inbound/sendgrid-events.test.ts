import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InboundPayloadError } from '../../../../src/platforms/notifications/inbound/inbound-event.js';
import {
  parseSendGridEventBatch,
  parseSendGridEvents,
  sendGridXMessageId,
  verifySendGridSignature,
} from '../../../../src/platforms/notifications/inbound/sendgrid-events.js';

// The vector published with SendGrid's own SDK tests (see /work/shared/contracts/README.md).
const vector = {
  publicKey:
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==',
  timestamp: '1588788367',
  body: '{"category":"example_payload","event":"test_event","message_id":"message_id"}',
  signature: 'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=',
};

function vectorInput(overrides: Partial<Parameters<typeof verifySendGridSignature>[0]> = {}) {
  return {
    publicKey: vector.publicKey,
    timestamp: vector.timestamp,
    signature: vector.signature,
    rawBody: Buffer.from(vector.body, 'utf8'),
    ...overrides,
  };
}

describe('verifySendGridSignature', () => {
  it("verifies SendGrid's published vector", () => {
    expect(verifySendGridSignature(vectorInput())).toEqual({ ok: true });
  });

  it('fails when one byte of the body changes', () => {
    const body = Buffer.from(vector.body, 'utf8');
    for (const position of [0, 20, body.length - 1]) {
      const tampered = Buffer.from(body);
      tampered[position] = tampered[position]! ^ 0x01;
      expect(verifySendGridSignature(vectorInput({ rawBody: tampered }))).toEqual({ ok: false, reason: 'signature mismatch' });
    }
    expect(verifySendGridSignature(vectorInput({ rawBody: Buffer.from(`${vector.body}\n`) })).ok).toBe(false);
  });

  it('fails when the timestamp or the signature changes', () => {
    expect(verifySendGridSignature(vectorInput({ timestamp: '1588788368' })).ok).toBe(false);
    const sig = Buffer.from(vector.signature, 'base64');
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 0x01;
    expect(verifySendGridSignature(vectorInput({ signature: sig.toString('base64') })).ok).toBe(false);
  });

  it('refuses stale or future timestamps beyond the tolerance, and only when a tolerance is given', () => {
    const at = (seconds: number) => new Date(seconds * 1000);
    expect(verifySendGridSignature(vectorInput({ toleranceSeconds: 300, now: at(1588788367 + 299) }))).toEqual({ ok: true });
    expect(verifySendGridSignature(vectorInput({ toleranceSeconds: 300, now: (1588788367 - 200) * 1000 }))).toEqual({ ok: true });
    const stale = verifySendGridSignature(vectorInput({ toleranceSeconds: 300, now: at(1588788367 + 301) }));
    expect(stale).toEqual({ ok: false, reason: 'timestamp outside the 300s tolerance' });
    expect(verifySendGridSignature(vectorInput({ toleranceSeconds: 300, now: at(1588788367 - 3600) })).ok).toBe(false);
    // No tolerance: the 2020 vector still verifies today.
    expect(verifySendGridSignature(vectorInput()).ok).toBe(true);
  });

  it('accepts the key as PEM too', () => {
    const pem = `-----BEGIN PUBLIC KEY-----\n${vector.publicKey.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
    expect(verifySendGridSignature(vectorInput({ publicKey: pem }))).toEqual({ ok: true });
  });

  it('verifies a batch signed with a freshly generated P-256 key, then parses it', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const body = Buffer.from(
      JSON.stringify([
        { email: 'a@example.org', timestamp: 1700000000, event: 'delivered', sg_event_id: 'ZGVsaXZlcmVk', sg_message_id: 'Xm1.filter-1' },
      ]),
    );
    const timestamp = '1700000005';
    const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), body]), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
    expect(verifySendGridSignature({ publicKey: spki, timestamp, signature, rawBody: body, toleranceSeconds: 60, now: 1700000010_000 })).toEqual({
      ok: true,
    });
    expect(parseSendGridEvents(body)).toMatchObject([{ kind: 'delivered', providerMessageId: 'Xm1' }]);
  });

  it('never throws on garbage, and says why', () => {
    const { publicKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaSpki = rsa.export({ format: 'der', type: 'spki' }).toString('base64');
    const cases: Array<[Parameters<typeof verifySendGridSignature>[0], RegExp]> = [
      [vectorInput({ publicKey: '' }), /no public key/],
      [vectorInput({ publicKey: 'not a key at all' }), /unusable public key/],
      [vectorInput({ publicKey: rsaSpki }), /unusable public key/],
      [vectorInput({ signature: undefined }), /missing signature/],
      [vectorInput({ signature: '' }), /missing signature/],
      [vectorInput({ signature: '%%%not-base64%%%' }), /malformed signature/],
      [vectorInput({ signature: 'A'.repeat(5000) }), /malformed signature/],
      [vectorInput({ signature: 'AAAA' }), /signature mismatch|could not be verified/],
      [vectorInput({ timestamp: null }), /missing timestamp/],
      [vectorInput({ timestamp: 'yesterday' }), /malformed timestamp/],
      [vectorInput({ timestamp: '-1' }), /malformed timestamp/],
      [vectorInput({ rawBody: vector.body as unknown as Buffer }), /not a Buffer/],
    ];
    for (const [input, reason] of cases) {
      const result = verifySendGridSignature(input);
      expect(result.ok).toBe(false);
      expect(result.ok === false && result.reason).toMatch(reason);
    }
    expect(verifySendGridSignature(null as never).ok).toBe(false);
    expect(verifySendGridSignature({} as never).ok).toBe(false);
  });
});

// Payloads shaped like the Event Webhook reference's examples, with our custom arg notification_id.
const nid = '6f1c1d52-5d0a-4d7e-9a3b-0c2f0e7b9a11';
const sgMessageId = 'euo2iKxdSayPF4YE4--I7A.recvd-5f54b5d587-pczjm-1-67BADEEA-6.0';
const base = { email: 'client@example.org', 'smtp-id': '<abc@ismtpd-1>', category: ['reservation'], sg_message_id: sgMessageId, notification_id: nid };
const documented = [
  { ...base, timestamp: 1700000000, event: 'processed', sg_event_id: 'ev-processed' },
  { ...base, timestamp: 1700000001, event: 'deferred', sg_event_id: 'ev-deferred', response: '400 try again later', attempt: '5' },
  { ...base, timestamp: 1700000002, event: 'delivered', sg_event_id: 'ev-delivered', response: '250 OK', ip: '203.0.113.5', tls: 1 },
  { ...base, timestamp: 1700000003, event: 'open', sg_event_id: 'ev-open', useragent: 'Mozilla/4.0', ip: '203.0.113.6', sg_machine_open: false },
  { ...base, timestamp: 1700000004, event: 'click', sg_event_id: 'ev-click', url: 'https://vieux-moulin.example/menu', url_offset: { index: 0, type: 'html' } },
  {
    ...base,
    timestamp: 1700000005,
    event: 'bounce',
    sg_event_id: 'ev-bounce',
    type: 'bounce',
    status: '5.1.1',
    reason: '550 5.1.1 The email account that you tried to reach does not exist.',
    bounce_classification: 'Invalid Address',
  },
  {
    ...base,
    timestamp: 1700000006,
    event: 'bounce',
    sg_event_id: 'ev-blocked',
    type: 'blocked',
    reason: 'unable to get mx info',
    bounce_classification: 'Unclassified',
  },
  { ...base, timestamp: 1700000007, event: 'dropped', sg_event_id: 'ev-dropped', reason: 'Bounced Address', status: '5.0.0' },
  { ...base, timestamp: 1700000008, event: 'spamreport', sg_event_id: 'ev-spam' },
  { ...base, timestamp: 1700000009, event: 'unsubscribe', sg_event_id: 'ev-unsub' },
  { ...base, timestamp: 1700000010, event: 'group_unsubscribe', sg_event_id: 'ev-gunsub', asm_group_id: 10, useragent: 'Mozilla', ip: '203.0.113.7' },
  { ...base, timestamp: 1700000011, event: 'group_resubscribe', sg_event_id: 'ev-gresub', asm_group_id: 10 },
];

describe('parseSendGridEvents', () => {
  it('maps every documented event type', () => {
    const events = parseSendGridEvents(Buffer.from(JSON.stringify(documented)));
    expect(events.map((e) => [e.providerEventId, e.kind])).toEqual([
      ['ev-processed', 'sent'],
      ['ev-deferred', 'deferred'],
      ['ev-delivered', 'delivered'],
      ['ev-open', 'opened'],
      ['ev-click', 'clicked'],
      ['ev-bounce', 'bounced'],
      ['ev-blocked', 'bounced'],
      ['ev-dropped', 'failed'],
      ['ev-spam', 'spam'],
      ['ev-unsub', 'unsubscribed'],
      ['ev-gunsub', 'unsubscribed'],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ provider: 'sendgrid', providerMessageId: 'euo2iKxdSayPF4YE4--I7A', notificationId: nid });
    }
    const byId = Object.fromEntries(events.map((e) => [e.providerEventId, e]));
    expect(byId['ev-processed']!.occurredAt).toBe('2023-11-14T22:13:20.000Z');
    expect(byId['ev-click']!.url).toBe('https://vieux-moulin.example/menu');
    expect(byId['ev-bounce']).toMatchObject({ hard: true, reason: '550 5.1.1 The email account that you tried to reach does not exist.' /* status already in it */ });
    expect(byId['ev-blocked']).toMatchObject({ hard: false, reason: 'unable to get mx info' });
    expect(byId['ev-deferred']!.reason).toBe('400 try again later');
    expect(byId['ev-dropped']).toMatchObject({ reason: '5.0.0 Bounced Address' });
    expect(byId['ev-dropped']!.hard).toBeUndefined();
    expect(byId['ev-delivered']!.reason).toBeUndefined();
    expect(byId['ev-open']!.raw).toMatchObject({ sg_machine_open: false, sg_message_id: sgMessageId });
  });

  it('reports ignored types in the batch form', () => {
    const batch = parseSendGridEventBatch(Buffer.from(JSON.stringify(documented)));
    expect(batch.ignored).toEqual([{ index: 11, event: 'group_resubscribe' }]);
    expect(batch.invalid).toEqual([]);
    expect(batch.events).toHaveLength(11);
  });

  it("skips the vendor's signed test event (a single object, not an array)", () => {
    expect(parseSendGridEvents(Buffer.from(vector.body))).toEqual([]);
    expect(parseSendGridEventBatch(Buffer.from(vector.body)).ignored).toEqual([{ index: 0, event: 'test_event' }]);
  });

  it('keeps sg_message_id up to its first dot, which is the X-Message-Id given at send time', () => {
    expect(sendGridXMessageId('14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0')).toBe('14c5d75ce93');
    expect(sendGridXMessageId('Ua9z9lSTSaqYBWJe_Xfc-Q')).toBe('Ua9z9lSTSaqYBWJe_Xfc-Q');
  });

  it('derives a stable event id when sg_event_id is absent, distinct per event', () => {
    const body = (events: object[]) => Buffer.from(JSON.stringify(events));
    const open = { sg_message_id: 'M1.x', timestamp: 1700000000, event: 'open' };
    const [a] = parseSendGridEvents(body([open]));
    const [b] = parseSendGridEvents(body([{ ...open, email: 'other-field-order@example.org' }]));
    const [c] = parseSendGridEvents(body([{ ...open, timestamp: 1700000001 }]));
    const [d] = parseSendGridEvents(body([{ ...open, event: 'click', url: 'https://a.example' }]));
    const [e] = parseSendGridEvents(body([{ ...open, event: 'click', url: 'https://b.example' }]));
    expect(a!.providerEventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b!.providerEventId).toBe(a!.providerEventId);
    expect(new Set([a, c, d, e].map((x) => x!.providerEventId)).size).toBe(4);
    expect(a!.notificationId).toBeUndefined();
  });

  it('treats a bounce without type by its status class', () => {
    const parse = (extra: object) =>
      parseSendGridEvents(Buffer.from(JSON.stringify([{ sg_message_id: 'M', timestamp: 1700000000, event: 'bounce', ...extra }])))[0]!;
    expect(parse({ status: '5.0.0' }).hard).toBe(true);
    expect(parse({ status: '4.2.2' }).hard).toBe(false);
    expect(parse({}).hard).toBe(true);
  });

  it('refuses unusable bodies with InboundPayloadError on field body', () => {
    const bodies = ['', '   ', 'not json', '{"event":', '42', '"text"', 'null', 'true', '[]'];
    for (const text of bodies) {
      const error = catchError(() => parseSendGridEvents(Buffer.from(text)));
      expect(error, text).toBeInstanceOf(InboundPayloadError);
      expect((error as InboundPayloadError).field).toBe('body');
      expect((error as InboundPayloadError).provider).toBe('sendgrid');
    }
    expect(catchError(() => parseSendGridEvents('[]' as unknown as Buffer))).toBeInstanceOf(InboundPayloadError);
    expect(catchError(() => parseSendGridEvents(undefined as unknown as Buffer))).toBeInstanceOf(InboundPayloadError);
  });

  it('names the field of a malformed event', () => {
    const cases: Array<[unknown, string]> = [
      [[1], '[0]'],
      [[null], '[0]'],
      [[[]], '[0]'],
      [[{ sg_message_id: 'M', timestamp: 1 }], '[0].event'],
      [[{ event: 5, sg_message_id: 'M', timestamp: 1 }], '[0].event'],
      [[{ event: 'delivered', timestamp: 1700000000 }], '[0].sg_message_id'],
      [[{ event: 'delivered', sg_message_id: 42, timestamp: 1700000000 }], '[0].sg_message_id'],
      [[{ event: 'delivered', sg_message_id: '.suffix-only', timestamp: 1700000000 }], '[0].sg_message_id'],
      [[{ event: 'delivered', sg_message_id: 'M' }], '[0].timestamp'],
      [[{ event: 'delivered', sg_message_id: 'M', timestamp: 'soon' }], '[0].timestamp'],
      [[{ event: 'delivered', sg_message_id: 'M', timestamp: 1700000000000 }], '[0].timestamp'],
      [[{ event: 'delivered', sg_message_id: 'M', timestamp: 1700000000, sg_event_id: 7 }], '[0].sg_event_id'],
      [[{ event: 'click', sg_message_id: 'M', timestamp: 1700000000 }], '[0].url'],
      [[{ event: 'delivered', sg_message_id: 'M'.repeat(300), timestamp: 1700000000 }], '[0].sg_message_id'],
      [[{ event: 'constructor', sg_message_id: 'M', timestamp: 1700000000 }, 'x'], '[1]'],
    ];
    for (const [payload, field] of cases) {
      const error = catchError(() => parseSendGridEvents(Buffer.from(JSON.stringify(payload))));
      expect(error, JSON.stringify(payload)).toBeInstanceOf(InboundPayloadError);
      expect((error as InboundPayloadError).field).toBe(field);
    }
  });

  it('keeps the good events of a batch with a malformed one in the batch form', () => {
    const batch = parseSendGridEventBatch(
      Buffer.from(JSON.stringify([documented[2], { event: 'delivered' }, documented[3]])),
    );
    expect(batch.events.map((e) => e.kind)).toEqual(['delivered', 'opened']);
    expect(batch.invalid.map((e) => e.field)).toEqual(['[1].sg_message_id']);
  });

  it('refuses huge arrays and bodies without crashing', () => {
    const many = Buffer.from(JSON.stringify(Array.from({ length: 10_001 }, () => ({ event: 'open' }))));
    expect(catchError(() => parseSendGridEvents(many))).toMatchObject({ field: 'body', message: expect.stringMatching(/10001 events exceed/) });
    expect(catchError(() => parseSendGridEvents(Buffer.from('[{},{},{}]'), { maxEvents: 2 }))).toMatchObject({ field: 'body' });
    expect(catchError(() => parseSendGridEvents(Buffer.alloc(2048, 0x20), { maxBodyBytes: 1024 }))).toMatchObject({
      field: 'body',
      message: expect.stringMatching(/exceeds/),
    });
    const deep = Buffer.from(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    expect(catchError(() => parseSendGridEvents(deep))).toBeInstanceOf(InboundPayloadError);
  });

  it('drops secret-looking fields from raw', () => {
    const [event] = parseSendGridEvents(
      Buffer.from(JSON.stringify([{ event: 'open', sg_message_id: 'M', timestamp: 1700000000, api_key: 'SG.x', nested: { auth_token: 't', ok: 1 } }])),
    );
    expect(event!.raw).not.toHaveProperty('api_key');
    expect(event!.raw.nested).toEqual({ ok: 1 });
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
