import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { MAX_PLATFORM_ID_LENGTH, type InteractionKind, type InteractionVerb } from '../../../domain/engagement-events.js';
import { quoteUnsafeIntegers } from '../../notifications/inbound/inbound-event.js';

/**
 * Facebook Page webhooks (Graph API Webhooks, object `page`, field `feed`), pure: the subscription handshake, the
 * X-Hub-Signature-256 check and the mapping of feed changes to interactions with our posts. The HTTP route hands over
 * the raw body and the headers; nothing here does I/O.
 *
 * Contract (developers.facebook.com/docs/graph-api/webhooks):
 * - subscription: GET ?hub.mode=subscribe&hub.verify_token=<ours>&hub.challenge=<n>, answered with the challenge;
 * - notifications: POST, JSON `{object: 'page', entry: [{id, time, changes: [{field: 'feed', value}]}]}`, signed with
 *   `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>`;
 * - a feed change value: `item` (comment, reaction, share, status, post, photo, ...), `verb` (add, edit/edited, remove,
 *   hide, ...), `post_id`, `comment_id`, `parent_id`, `reaction_type`, `from`, `created_time`.
 */

export type FacebookVerification = { ok: true } | { ok: false; reason: string };

export interface FacebookInteraction {
  /** The post the interaction is on, as Facebook names it (PAGEID_POSTID). */
  postId: string;
  /** The comment id or share id; for reactions, which have none, `sha256:<hex>` of the change (see derivedId). */
  interactionId: string;
  kind: InteractionKind;
  verb: InteractionVerb;
}

export interface FacebookFeedBatch {
  interactions: FacebookInteraction[];
  /** Changes that are not interactions with a post: other fields, new posts, hidden comments, comment reactions... */
  ignored: number;
  /** Changes without what an interaction needs (post_id, comment_id); the others are still returned. */
  invalid: FacebookPayloadError[];
}

/** A body or a change that does not have the documented shape; `field` says where (e.g. `entry[0].changes[2].value.post_id`). */
export class FacebookPayloadError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`facebook payload, ${field}: ${message}`);
    this.name = 'FacebookPayloadError';
  }
}

export const FACEBOOK_SIGNATURE_HEADER = 'x-hub-signature-256';
/**
 * Facebook's challenge is a number. The answer echoes it, so only plain token characters are echoed: nothing a
 * browser could take for markup.
 */
const CHALLENGE = /^[A-Za-z0-9._~-]{1,1000}$/;

// ---- verification -------------------------------------------------------------------------------------------------

/** The signature header against the HMAC of the exact bytes received, compared in constant time. */
export function verifyFacebookSignature(input: { appSecret: string; signature: string | undefined; rawBody: Buffer }): FacebookVerification {
  const { appSecret, signature, rawBody } = input;
  if (!appSecret) return { ok: false, reason: 'no app secret configured' };
  if (signature === undefined || signature.trim() === '') return { ok: false, reason: 'missing X-Hub-Signature-256 header' };
  const match = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim());
  if (!match) return { ok: false, reason: 'X-Hub-Signature-256 is not sha256=<64 hex digits>' };
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  const given = Buffer.from(match[1]!, 'hex');
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'X-Hub-Signature-256 does not match the body' };
}

/** The subscription handshake: the challenge to echo back, when the mode and our verify token are right. */
export function answerFacebookSubscription(input: {
  expectedToken: string;
  mode: string;
  verifyToken: string;
  challenge: string;
}): { ok: true; challenge: string } | { ok: false; field: 'hub.mode' | 'hub.verify_token' | 'hub.challenge'; reason: string } {
  if (input.mode !== 'subscribe') return { ok: false, field: 'hub.mode', reason: 'hub.mode must be subscribe' };
  if (!input.expectedToken || !sameSecret(input.expectedToken, input.verifyToken)) {
    return { ok: false, field: 'hub.verify_token', reason: 'hub.verify_token does not match' };
  }
  if (!CHALLENGE.test(input.challenge)) return { ok: false, field: 'hub.challenge', reason: 'hub.challenge must be 1 to 1000 letters, digits or ._~-' };
  return { ok: true, challenge: input.challenge };
}

/** Both sides hashed first, so neither the content nor the length of the expected value leaks through timing. */
function sameSecret(expected: string, given: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(given));
}

// ---- parsing ------------------------------------------------------------------------------------------------------

const kinds: Record<string, InteractionKind> = { comment: 'comment', reaction: 'reaction', share: 'share' };
/** Facebook says `edited` for comments and `edit` for reactions; hide, unhide, block... change no count. */
const verbs: Record<string, InteractionVerb> = { add: 'add', remove: 'remove', edited: 'edited', edit: 'edited' };

/**
 * The interactions of a verified notification body. Throws FacebookPayloadError when the body itself is unreadable;
 * a malformed change is reported in `invalid` and the others are kept, so one bad change does not make Facebook
 * redeliver (and us re-read) the whole batch forever.
 */
export function parseFacebookFeed(rawBody: Buffer): FacebookFeedBatch {
  let body: unknown;
  try {
    body = JSON.parse(quoteUnsafeIntegers(rawBody.toString('utf8')));
  } catch {
    throw new FacebookPayloadError('body', 'not valid JSON');
  }
  if (!isRecord(body)) throw new FacebookPayloadError('body', 'expected a JSON object');
  if (!Array.isArray(body.entry)) throw new FacebookPayloadError('entry', 'expected an array');
  // Only Page notifications carry feed changes (the same app may also get user or Instagram ones).
  const isPage = body.object === 'page';
  const batch: FacebookFeedBatch = { interactions: [], ignored: 0, invalid: [] };
  body.entry.forEach((entry: unknown, e) => {
    const changes = isRecord(entry) && Array.isArray(entry.changes) ? entry.changes : [];
    changes.forEach((change: unknown, c) => {
      const path = `entry[${e}].changes[${c}]`;
      if (!isPage || !isRecord(change) || change.field !== 'feed' || !isRecord(change.value)) {
        batch.ignored++;
        return;
      }
      try {
        const interaction = toInteraction(change.value, `${path}.value`);
        if (interaction) batch.interactions.push(interaction);
        else batch.ignored++;
      } catch (error) {
        batch.invalid.push(error instanceof FacebookPayloadError ? error : new FacebookPayloadError(path, 'unreadable change'));
      }
    });
  });
  return batch;
}

function toInteraction(value: Record<string, unknown>, path: string): FacebookInteraction | null {
  const kind = kinds[String(value.item)];
  const verb = verbs[String(value.verb)];
  if (!kind || !verb) return null;
  const postId = idOf(value.post_id, `${path}.post_id`);
  // A reaction to a comment names the comment as its parent: it is not a like of the post.
  if (kind === 'reaction' && value.parent_id !== undefined && value.parent_id !== null && String(value.parent_id) !== postId) return null;
  const interactionId =
    kind === 'comment'
      ? idOf(value.comment_id, `${path}.comment_id`)
      : kind === 'share' && value.share_id !== undefined && value.share_id !== null
        ? idOf(value.share_id, `${path}.share_id`)
        : derivedId(value);
  return { postId, interactionId, kind, verb };
}

function idOf(value: unknown, field: string): string {
  const id = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof id !== 'string' || id.trim() === '') throw new FacebookPayloadError(field, value === undefined ? 'missing' : 'expected an id');
  if (id.length > MAX_PLATFORM_ID_LENGTH) throw new FacebookPayloadError(field, `longer than ${MAX_PLATFORM_ID_LENGTH} characters`);
  return id.trim();
}

/**
 * Reactions carry no id of their own. The hash of the whole change stands for one: a redelivery hashes the same,
 * another reaction (another person, time or type) does not. It also keeps the reacting person's id out of our events.
 */
function derivedId(value: Record<string, unknown>): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex')}`;
}

/** JSON with object keys sorted at every depth: the same change gives the same text whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
