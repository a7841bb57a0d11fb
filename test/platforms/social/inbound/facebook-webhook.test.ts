import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  answerFacebookSubscription,
  FacebookPayloadError,
  parseFacebookFeed,
  verifyFacebookSignature,
} from '../../../../src/platforms/social/inbound/facebook-webhook.js';

const APP_SECRET = 'vieux-moulin-app-secret';
const POST_ID = '104857600_9000001';

// Facebook escapes non-ASCII characters (\u00e0) and signs the escaped text: the raw bytes are what is signed.
const SIGNED_BODY = String.raw`{"object":"page","entry":[{"id":"104857600","time":1764583200,"changes":[{"field":"feed","value":{"item":"comment","verb":"add","post_id":"104857600_9000001","comment_id":"9000001_555","parent_id":"104857600_9000001","created_time":1764583199,"message":"Trop bon \u00e0 Vensac"}}]}]}`;
/** HMAC-SHA256(APP_SECRET, SIGNED_BODY), computed once outside this code. */
const SIGNED_BODY_SIGNATURE = 'sha256=3faf16b776ae97a7468995550c6a6243fe982dbd27e8659963959cbd1dc27b13';

const sign = (body: string, secret = APP_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const verify = (signature: string | undefined, body = SIGNED_BODY) => verifyFacebookSignature({ appSecret: APP_SECRET, signature, rawBody: Buffer.from(body) });

const feed = (...values: Record<string, unknown>[]) =>
  Buffer.from(JSON.stringify({ object: 'page', entry: [{ id: '104857600', time: 1764583200, changes: values.map((value) => ({ field: 'feed', value })) }] }));

describe('verifyFacebookSignature', () => {
  it('accepts the known vector', () => {
    expect(sign(SIGNED_BODY)).toBe(SIGNED_BODY_SIGNATURE);
    expect(verify(SIGNED_BODY_SIGNATURE)).toEqual({ ok: true });
  });

  it('accepts upper-case hex and surrounding spaces', () => {
    expect(verify(` sha256=${SIGNED_BODY_SIGNATURE.slice(7).toUpperCase()} `)).toEqual({ ok: true });
  });

  it('refuses a tampered body, even by one character', () => {
    expect(verify(SIGNED_BODY_SIGNATURE, SIGNED_BODY.replace('Vensac', 'Vensaq'))).toEqual({ ok: false, reason: 'X-Hub-Signature-256 does not match the body' });
    // The unescaped form is the same JSON but not the same bytes.
    expect(verify(SIGNED_BODY_SIGNATURE, JSON.stringify(JSON.parse(SIGNED_BODY))).ok).toBe(false);
  });

  it('refuses a signature made with another secret', () => {
    expect(verify(sign(SIGNED_BODY, 'another-secret')).ok).toBe(false);
  });

  it('says when the header is missing or malformed', () => {
    expect(verify(undefined)).toEqual({ ok: false, reason: 'missing X-Hub-Signature-256 header' });
    expect(verify('')).toEqual({ ok: false, reason: 'missing X-Hub-Signature-256 header' });
    expect(verify('sha1=0123456789abcdef0123456789abcdef01234567').ok).toBe(false);
    expect(verify(`sha256=${'z'.repeat(64)}`)).toEqual({ ok: false, reason: expect.stringContaining('not sha256=') });
    expect(verify(SIGNED_BODY_SIGNATURE.slice(0, -2)).ok).toBe(false);
  });

  it('refuses everything without an app secret', () => {
    expect(verifyFacebookSignature({ appSecret: '', signature: SIGNED_BODY_SIGNATURE, rawBody: Buffer.from(SIGNED_BODY) }).ok).toBe(false);
  });
});

describe('answerFacebookSubscription', () => {
  const base = { expectedToken: 'moulin-verify-7f3a', mode: 'subscribe', verifyToken: 'moulin-verify-7f3a', challenge: '1158201444' };

  it('echoes the challenge when the mode and token are right', () => {
    expect(answerFacebookSubscription(base)).toEqual({ ok: true, challenge: '1158201444' });
  });

  it('refuses another mode, another token, and an empty challenge', () => {
    expect(answerFacebookSubscription({ ...base, mode: 'unsubscribe' })).toEqual({ ok: false, field: 'hub.mode', reason: 'hub.mode must be subscribe' });
    expect(answerFacebookSubscription({ ...base, verifyToken: 'moulin-verify-7f3b' })).toEqual({ ok: false, field: 'hub.verify_token', reason: 'hub.verify_token does not match' });
    expect(answerFacebookSubscription({ ...base, verifyToken: '' }).ok).toBe(false);
    expect(answerFacebookSubscription({ ...base, expectedToken: '', verifyToken: '' }).ok).toBe(false);
    expect(answerFacebookSubscription({ ...base, challenge: '' }).ok).toBe(false);
    expect(answerFacebookSubscription({ ...base, challenge: '<script>alert(1)</script>' }).ok).toBe(false);
  });
});

describe('parseFacebookFeed', () => {
  it('maps a comment to its comment id', () => {
    expect(parseFacebookFeed(Buffer.from(SIGNED_BODY))).toEqual({
      interactions: [{ postId: POST_ID, interactionId: '9000001_555', kind: 'comment', verb: 'add' }],
      ignored: 0,
      invalid: [],
    });
  });

  it('maps edits and removals, with both spellings of edit', () => {
    const batch = parseFacebookFeed(
      feed(
        { item: 'comment', verb: 'edited', post_id: POST_ID, comment_id: '9000001_555' },
        { item: 'comment', verb: 'remove', post_id: POST_ID, comment_id: '9000001_555' },
        { item: 'reaction', verb: 'edit', post_id: POST_ID, parent_id: POST_ID, reaction_type: 'love', from: { id: '42' }, created_time: 1764583300 },
      ),
    );
    expect(batch.interactions.map((i) => [i.kind, i.verb])).toEqual([
      ['comment', 'edited'],
      ['comment', 'remove'],
      ['reaction', 'edited'],
    ]);
  });

  it('gives a reaction a stable id derived from the change, without the person in it', () => {
    const like = { item: 'reaction', verb: 'add', post_id: POST_ID, parent_id: POST_ID, reaction_type: 'like', from: { id: '10215938419392424', name: 'Marie Dupont' }, created_time: 1764583300 };
    const [first] = parseFacebookFeed(feed(like)).interactions;
    expect(first).toMatchObject({ postId: POST_ID, kind: 'reaction', verb: 'add', interactionId: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(first!.interactionId).not.toContain('10215938419392424');
    // The same change again, keys in another order: the same id.
    const reordered = Object.fromEntries(Object.entries(like).reverse());
    expect(parseFacebookFeed(feed(reordered)).interactions[0]!.interactionId).toBe(first!.interactionId);
    // Another person, or the same person later: another id.
    expect(parseFacebookFeed(feed({ ...like, from: { id: '43' } })).interactions[0]!.interactionId).not.toBe(first!.interactionId);
    expect(parseFacebookFeed(feed({ ...like, verb: 'remove', created_time: 1764583400 })).interactions[0]!.interactionId).not.toBe(first!.interactionId);
  });

  it('keeps ids above 2^53 exact', () => {
    const body = Buffer.from(`{"object":"page","entry":[{"changes":[{"field":"feed","value":{"item":"comment","verb":"add","post_id":"${POST_ID}","comment_id":90000011234567891}}]}]}`);
    expect(parseFacebookFeed(body).interactions[0]!.interactionId).toBe('90000011234567891');
  });

  it('uses the share id of a share, and derives one when there is none', () => {
    const batch = parseFacebookFeed(feed({ item: 'share', verb: 'add', post_id: POST_ID, share_id: '777' }, { item: 'share', verb: 'add', post_id: POST_ID, created_time: 1 }));
    expect(batch.interactions.map((i) => i.interactionId)).toEqual(['777', expect.stringMatching(/^sha256:/)]);
  });

  it('ignores what is not an interaction with a post', () => {
    const body = Buffer.from(
      JSON.stringify({
        object: 'page',
        entry: [
          {
            id: '104857600',
            changes: [
              { field: 'feed', value: { item: 'status', verb: 'add', post_id: POST_ID } },
              { field: 'feed', value: { item: 'comment', verb: 'hide', post_id: POST_ID, comment_id: '1' } },
              { field: 'feed', value: { item: 'like', verb: 'add', post_id: POST_ID } },
              { field: 'feed', value: { item: 'reaction', verb: 'add', post_id: POST_ID, parent_id: '9000001_555', reaction_type: 'like' } },
              { field: 'ratings', value: { item: 'rating', verb: 'add' } },
            ],
          },
          { id: '104857600', messaging: [{}] },
        ],
      }),
    );
    expect(parseFacebookFeed(body)).toEqual({ interactions: [], ignored: 5, invalid: [] });
    const instagram = Buffer.from(JSON.stringify({ object: 'instagram', entry: [{ changes: [{ field: 'feed', value: { item: 'comment', verb: 'add', post_id: 'x', comment_id: 'y' } }] }] }));
    expect(parseFacebookFeed(instagram).ignored).toBe(1);
  });

  it('reports a malformed change by its field and keeps the others', () => {
    const batch = parseFacebookFeed(feed({ item: 'comment', verb: 'add', comment_id: '1' }, { item: 'comment', verb: 'add', post_id: POST_ID }, { item: 'comment', verb: 'add', post_id: POST_ID, comment_id: '2' }));
    expect(batch.interactions).toEqual([{ postId: POST_ID, interactionId: '2', kind: 'comment', verb: 'add' }]);
    expect(batch.invalid.map((e) => [e.field, e.message])).toEqual([
      ['entry[0].changes[0].value.post_id', 'facebook payload, entry[0].changes[0].value.post_id: missing'],
      ['entry[0].changes[1].value.comment_id', 'facebook payload, entry[0].changes[1].value.comment_id: missing'],
    ]);
  });

  it('refuses a body that is not a notification', () => {
    expect(() => parseFacebookFeed(Buffer.from('not json'))).toThrow(FacebookPayloadError);
    expect(() => parseFacebookFeed(Buffer.from('[]'))).toThrow(expect.objectContaining({ field: 'body' }));
    expect(() => parseFacebookFeed(Buffer.from('{"object":"page"}'))).toThrow(expect.objectContaining({ field: 'entry' }));
    expect(() => parseFacebookFeed(Buffer.alloc(0))).toThrow(expect.objectContaining({ field: 'body' }));
  });
});
