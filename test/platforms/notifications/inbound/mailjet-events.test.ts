import { describe, expect, it } from 'vitest';
import { InboundPayloadError } from '../../../../src/platforms/notifications/inbound/inbound-event.js';
import {
  parseMailjetEventBatch,
  parseMailjetEvents,
  verifyMailjetBasicAuth,
} from '../../../../src/platforms/notifications/inbound/mailjet-events.js';

const basic = (credentials: string) => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

describe('verifyMailjetBasicAuth', () => {
  const expected = { expectedUser: 'mailjet', expectedPassword: 's3cr3t:with:colons' };

  it('accepts the configured credentials', () => {
    expect(verifyMailjetBasicAuth({ ...expected, authorizationHeader: basic('mailjet:s3cr3t:with:colons') })).toEqual({ ok: true });
    expect(verifyMailjetBasicAuth({ ...expected, authorizationHeader: `basic   ${basic('mailjet:s3cr3t:with:colons').slice(6)}` })).toEqual({
      ok: true,
    });
  });

  it('refuses wrong, partial or malformed credentials without throwing', () => {
    const cases: Array<[string | undefined | null, RegExp]> = [
      [basic('mailjet:wrong'), /mismatch/],
      [basic('other:s3cr3t:with:colons'), /mismatch/],
      [basic('mailjet:s3cr3t:with:colons '), /mismatch/],
      [basic('mailjet'), /malformed/],
      [basic(''), /not Basic/],
      ['Bearer abc', /not Basic/],
      ['Basic', /not Basic/],
      ['Basic !!!', /not Basic/],
      ['', /missing/],
      [undefined, /missing/],
      [null, /missing/],
    ];
    for (const [header, reason] of cases) {
      const result = verifyMailjetBasicAuth({ ...expected, authorizationHeader: header });
      expect(result.ok, String(header)).toBe(false);
      expect(result.ok === false && result.reason).toMatch(reason);
    }
    expect(verifyMailjetBasicAuth({ expectedUser: '', expectedPassword: '', authorizationHeader: basic(':') })).toEqual({
      ok: false,
      reason: 'no basic auth credentials configured',
    });
    expect(verifyMailjetBasicAuth({ ...expected, authorizationHeader: 42 as never }).ok).toBe(false);
    expect(verifyMailjetBasicAuth(undefined as never).ok).toBe(false);
  });
});

// Shaped like the Event API documentation's samples. MessageID is above 2^53, as in Mailjet's own samples: it is
// written here as a string and turned into a bare JSON integer by body(), since a JS number literal would round it.
const body = (payload: unknown) => Buffer.from(JSON.stringify(payload).replace(/"MessageID":"(\d+)"/g, '"MessageID":$1'));
const nid = '9b2e7c1a-4f3d-4a6b-8e5c-2d1f0a9b8c7e';
const common = { email: 'client@example.org', mj_campaign_id: 7257, mj_contact_id: 4, customcampaign: '', CustomID: nid, Payload: '' };
const events = {
  sent: { event: 'sent', time: 1700000000, MessageID: '19421777835146490', ...common, mj_message_id: '19421777835146490', smtp_reply: 'sent (250 2.0.0 OK)' },
  open: { event: 'open', time: 1700000100, MessageID: '19421777835146490', ...common, ip: '203.0.113.9', geo: 'FR', agent: 'Mozilla/5.0' },
  click: { event: 'click', time: 1700000200, MessageID: '19421777835146490', ...common, url: 'https://vieux-moulin.example/reserver', ip: '203.0.113.9' },
  bounce: {
    event: 'bounce',
    time: 1700000300,
    MessageID: '13792286917004336',
    ...common,
    blocked: true,
    hard_bounce: true,
    error_related_to: 'recipient',
    error: 'user unknown',
  },
  softBounce: {
    event: 'bounce',
    time: 1700000301,
    MessageID: '13792286917004337',
    ...common,
    blocked: false,
    hard_bounce: false,
    error_related_to: 'recipient',
    error: 'quota exceeded',
  },
  blocked: { event: 'blocked', time: 1700000400, MessageID: '13792286917004338', ...common, error_related_to: 'mailjet', error: 'preblocked' },
  spam: { event: 'spam', time: 1700000500, MessageID: '13792286917004339', ...common, source: 'JMRPP' },
  unsub: { event: 'unsub', time: 1700000600, MessageID: '20547674933128000', ...common, mj_list_id: 1, ip: '203.0.113.9' },
};

describe('parseMailjetEvents', () => {
  it('maps every documented event type, from a grouped (Version 2) array', () => {
    expect(body(events.sent).toString()).toContain('"MessageID":19421777835146490,');
    const parsed = parseMailjetEvents(body(Object.values(events)));
    expect(parsed.map((e) => e.kind)).toEqual(['delivered', 'opened', 'clicked', 'bounced', 'bounced', 'failed', 'spam', 'unsubscribed']);
    for (const event of parsed) expect(event).toMatchObject({ provider: 'mailjet', notificationId: nid });
    const [sent, open, click, bounce, softBounce, blocked, spam, unsub] = parsed;
    expect(sent).toMatchObject({ providerMessageId: '19421777835146490', occurredAt: '2023-11-14T22:13:20.000Z' });
    expect(open!.providerMessageId).toBe('19421777835146490');
    expect(click).toMatchObject({ url: 'https://vieux-moulin.example/reserver' });
    expect(bounce).toMatchObject({ hard: true, reason: 'recipient: user unknown', providerMessageId: '13792286917004336' });
    expect(softBounce).toMatchObject({ hard: false, reason: 'recipient: quota exceeded' });
    expect(blocked).toMatchObject({ reason: 'mailjet: preblocked' });
    expect(blocked!.hard).toBeUndefined();
    expect(spam!.raw).toMatchObject({ source: 'JMRPP' });
    expect(unsub!.providerMessageId).toBe('20547674933128000');
  });

  it('reads MessageID exactly, although it does not fit a double', () => {
    const text = '{"event":"sent","time":1700000000,"MessageID":19421777835146491,"CustomID":""}';
    expect(String(JSON.parse(text).MessageID)).not.toBe('19421777835146491'); // what a plain JSON.parse would give
    const [event] = parseMailjetEvents(Buffer.from(text));
    expect(event!.providerMessageId).toBe('19421777835146491');
    expect(event!.raw.MessageID).toBe('19421777835146491');
    expect(event!.notificationId).toBeUndefined();
  });

  it('accepts a single object (Version 1) and the string mj_message_id of older grouped events', () => {
    expect(parseMailjetEvents(body(events.open))).toHaveLength(1);
    const older = { customcampaign: 'test', email: 'a@example.org', event: 'sent', mj_message_id: '18858825588804172', time: 1424873938 };
    expect(parseMailjetEvents(Buffer.from(JSON.stringify([older])))[0]).toMatchObject({ providerMessageId: '18858825588804172', kind: 'delivered' });
  });

  it('derives stable event ids: same event twice gives one id, each event its own', () => {
    const twice = parseMailjetEvents(body([events.open, events.open, events.sent, events.click]));
    expect(twice[0]!.providerEventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(twice[1]!.providerEventId).toBe(twice[0]!.providerEventId);
    expect(new Set(twice.map((e) => e.providerEventId)).size).toBe(3);
    const otherLink = parseMailjetEvents(body({ ...events.click, url: 'https://vieux-moulin.example/carte' }));
    expect(otherLink[0]!.providerEventId).not.toBe(twice[3]!.providerEventId);
  });

  it('ignores event types it does not track, and keeps good events apart from malformed ones', () => {
    const batch = parseMailjetEventBatch(body([events.sent, { event: 'sale', time: 1 }, { event: 'open' }]));
    expect(batch.events).toHaveLength(1);
    expect(batch.ignored).toEqual([{ index: 1, event: 'sale' }]);
    expect(batch.invalid.map((e) => e.field)).toEqual(['[2].MessageID']);
  });

  it('refuses unusable bodies with InboundPayloadError on field body', () => {
    for (const text of ['', 'garbage', '[', '0', '"sent"', 'null', '[]']) {
      const error = catchError(() => parseMailjetEvents(Buffer.from(text)));
      expect(error, text).toBeInstanceOf(InboundPayloadError);
      expect(error).toMatchObject({ provider: 'mailjet', field: 'body' });
    }
    expect(catchError(() => parseMailjetEvents({} as Buffer))).toMatchObject({ field: 'body' });
  });

  it('names the field of a malformed event', () => {
    const cases: Array<[unknown, string]> = [
      [['x'], '[0]'],
      [[{ time: 1700000000, MessageID: 1 }], '[0].event'],
      [[{ event: ['sent'], time: 1700000000, MessageID: 1 }], '[0].event'],
      [[{ event: 'sent', time: 1700000000 }], '[0].MessageID'],
      [[{ event: 'sent', time: 1700000000, MessageID: 1.5 }], '[0].MessageID'],
      [[{ event: 'sent', time: 1700000000, MessageID: -3 }], '[0].MessageID'],
      [[{ event: 'sent', time: 1700000000, MessageID: { id: 1 } }], '[0].MessageID'],
      [[{ event: 'sent', time: 1700000000, MessageID: '' }], '[0].MessageID'],
      [[{ event: 'sent', MessageID: 1 }], '[0].time'],
      [[{ event: 'sent', time: 'now', MessageID: 1 }], '[0].time'],
      [[{ event: 'sent', time: -5, MessageID: 1 }], '[0].time'],
      [[{ event: 'click', time: 1700000000, MessageID: 1 }], '[0].url'],
      [[{ event: 'bounce', time: 1700000000, MessageID: 1, hard_bounce: 'yes' }], '[0].hard_bounce'],
      [[{ event: 'bounce', time: 1700000000, MessageID: 1, error: 404 }], '[0].error'],
    ];
    for (const [payload, field] of cases) {
      const error = catchError(() => parseMailjetEvents(Buffer.from(JSON.stringify(payload))));
      expect(error, JSON.stringify(payload)).toBeInstanceOf(InboundPayloadError);
      expect((error as InboundPayloadError).field).toBe(field);
    }
  });

  it('refuses huge batches without crashing', () => {
    const many = body(Array.from({ length: 10_001 }, () => events.open));
    expect(catchError(() => parseMailjetEvents(many))).toMatchObject({ field: 'body' });
    expect(catchError(() => parseMailjetEvents(body([events.open, events.open]), { maxEvents: 1 }))).toMatchObject({
      field: 'body',
    });
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
