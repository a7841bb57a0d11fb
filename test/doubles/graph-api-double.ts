import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FacebookLogin } from './facebook-login.js';

/**
 * A stand-in for Meta's Graph API (Facebook Pages and Instagram content publishing) on 127.0.0.1. Like Graph it:
 * - serves every path under a version prefix (/v18.0/...), reads the token from `Authorization: Bearer`, or from the
 *   `access_token` query or form parameter, and refuses others with OAuthException 190 (104 when there is none);
 * - takes form-encoded, JSON or query-string parameters;
 * - answers errors as {"error": {message, type, code, error_subcode, error_user_title, error_user_msg, fbtrace_id}}
 *   and puts X-App-Usage and X-Business-Use-Case-Usage on every answer;
 * - Facebook: POST /{page}/feed (message, attached_media[i]={"media_fbid"}), POST /{page}/photos (url, published),
 *   POST /{page}/videos (file_url, description), GET /{page}/published_posts and /{page}/feed (since, limit, after),
 *   GET /{post} (reactions/comments summaries, shares), GET /{post}/insights (current post metrics only), GET /{page};
 * - Instagram: POST /{ig}/media (image_url | video_url + media_type REELS/VIDEO, is_carousel_item, CAROUSEL + children,
 *   caption), GET /{container}?fields=status_code (IN_PROGRESS for `containerPollsBeforeFinished` reads, then
 *   FINISHED), POST /{ig}/media_publish (creation_id), GET /{ig}/content_publishing_limit, GET /{ig}/media,
 *   GET /{media}?fields=permalink, GET /{media}/insights, GET /{ig}.
 * Everything published is recorded in `posts`, and the listings are served from it. Faults are injected with fail().
 * With `oauth`, Facebook Login's server side too (facebook-login.ts): the dialog, the code and long-lived token
 * exchanges and /me/accounts; the Page tokens it issues are accepted like the configured ones.
 */

export interface GraphApiDoubleOptions {
  pageId: string;
  igUserId: string;
  /** The tokens Graph accepts. */
  accessTokens: string[];
  /** Status reads a container answers IN_PROGRESS before FINISHED; default 1. */
  containerPollsBeforeFinished?: number;
  /** Instagram posts allowed per rolling 24 h; default 50 (a carousel counts as one). */
  publishingQuota?: number;
  /** Media Meta "cannot download": a container for one of them is refused with 9004/2207052. */
  unreachableMediaUrls?: Iterable<string>;
  /** The Meta app Facebook Login knows; the consenting person manages the Page (linked to the Instagram account). */
  oauth?: { appId: string; appSecret: string; longLivedSeconds?: number };
}

export interface GraphRecordedRequest {
  method: string;
  version: string;
  /** The path after the version prefix, e.g. /1234/feed. */
  path: string;
  /** The raw request target, query string included. */
  url: string;
  params: Record<string, unknown>;
  tokenVia: 'bearer' | 'query' | 'form' | 'none';
  /** 'ok', or what was answered instead: a Graph error code, or the fault's kind. */
  verdict: string;
}

export interface GraphRecordedPost {
  platform: 'facebook' | 'instagram';
  /** Facebook PAGEID_POSTID, or the Instagram media id. */
  id: string;
  kind: 'status' | 'photos' | 'video' | 'image' | 'reels' | 'carousel';
  /** message, video description or caption. */
  text: string;
  mediaUrls: string[];
  createdAt: Date;
  permalink: string;
}

export interface GraphErrorFields {
  code: number;
  message: string;
  error_subcode?: number;
  error_user_title?: string;
  error_user_msg?: string;
  is_transient?: boolean;
  type?: string;
}

export type GraphFault =
  /** HTTP 500 with Graph's "please retry" code 2. */
  | { kind: 'server-error'; status?: number }
  /** A throttling code (default 4, or 17/32/613/80001/80002) with every usage header at 100 %. */
  | { kind: 'throttled'; code?: number; regainMinutes?: number }
  /** OAuthException 190/463: the session has expired. */
  | { kind: 'token-expired' }
  /** OAuthException 506: duplicate status message. */
  | { kind: 'duplicate' }
  /** The request is held without being handled (nothing happens) until close(). */
  | { kind: 'timeout' }
  /** The request is handled — the post is recorded — but the answer comes `holdMs` later, or never. */
  | { kind: 'late-answer'; holdMs?: number }
  /** The container is created but its status ends in ERROR with this text. */
  | { kind: 'container-error'; status?: string }
  /** Any Graph error body. */
  | { kind: 'graph-error'; status?: number; error: GraphErrorFields; headers?: Record<string, string> };

export interface GraphFaultOptions {
  /** How many matching calls get the fault; default 1. */
  times?: number;
  /**
   * Which calls: method and a pattern on the path after the version prefix. Defaults: late-answer → the POSTs that
   * publish (feed, videos, media_publish); container-error → POST /{ig}/media; others → any call.
   */
  when?: { method?: 'GET' | 'POST'; path?: RegExp };
}

export interface GraphUsageLevels {
  /** X-App-Usage percentages. */
  appPercent?: number;
  /** X-Business-Use-Case-Usage percentages. */
  businessPercent?: number;
  /** X-Business-Use-Case-Usage estimated_time_to_regain_access, in minutes. */
  regainMinutes?: number;
}

export type GraphMetricValues = Record<string, number>;

export interface GraphApiDouble {
  url: string;
  requests: GraphRecordedRequest[];
  /** Every post made, in order (Facebook feed posts, photo posts and video posts; Instagram published media). */
  posts: GraphRecordedPost[];
  fail(fault: GraphFault, options?: GraphFaultOptions): void;
  /** Usage levels every answer reports from now on (default 3 %). */
  setUsage(levels: GraphUsageLevels): void;
  /** Counters GET /{post} and /{post}/insights answer for this post; 'not-enough-viewers' answers Instagram's (#10). */
  setMetrics(postId: string, values: GraphMetricValues | 'not-enough-viewers'): void;
  /** Overrides the Instagram quota usage content_publishing_limit reports (undefined: count the posts of 24 h). */
  setQuotaUsage(used: number | undefined): void;
  setContainerPollsBeforeFinished(polls: number): void;
  /** How many container status reads were answered. */
  containerPolls(): number;
  /** Facebook Login, when `oauth` was given. */
  login: FacebookLogin | null;
  close(): Promise<void>;
}

interface Container {
  id: string;
  mediaUrls: string[];
  video: boolean;
  carouselItem: boolean;
  children: string[];
  caption: string;
  polls: number;
  errorStatus?: string;
  published: boolean;
}

interface PendingFault {
  fault: GraphFault;
  remaining: number;
  method?: string;
  path?: RegExp;
}

const fbPostMetrics = new Set(['post_media_view', 'post_total_media_view_unique', 'post_clicks', 'post_reactions_by_type_total', 'post_video_views']);
const igMediaMetrics = new Set(['views', 'reach', 'likes', 'comments', 'shares', 'saved', 'total_interactions', 'follows', 'profile_visits', 'profile_activity']);
const captionLimit = 2_200;

class GraphReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

function graphError(status: number, fields: GraphErrorFields, headers: Record<string, string> = {}): GraphReply {
  const { type = 'OAuthException', ...rest } = fields;
  return new GraphReply(status, { error: { ...rest, type, fbtrace_id: randomBytes(8).toString('base64url') } }, headers);
}

const noSuchObject = (id: string) =>
  graphError(400, {
    code: 100,
    error_subcode: 33,
    message: `Unsupported request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
  });
const invalidParameter = (message: string, userMessage?: string) =>
  graphError(400, { code: 100, message: `(#100) ${message}`, ...(userMessage ? { error_user_msg: userMessage } : {}) });

/** Graph's timestamp format: 2026-03-01T18:30:00+0000. */
function graphTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, '+0000');
}

export async function startGraphApiDouble(options: GraphApiDoubleOptions): Promise<GraphApiDouble> {
  const { pageId, igUserId } = options;
  const tokens = new Set(options.accessTokens);
  const unreachable = new Set(options.unreachableMediaUrls ?? []);
  const quotaTotal = options.publishingQuota ?? 50;
  let pollsBeforeFinished = options.containerPollsBeforeFinished ?? 1;
  let quotaOverride: number | undefined;
  let usage: Required<GraphUsageLevels> = { appPercent: 3, businessPercent: 2, regainMinutes: 0 };
  let containerPolls = 0;
  let nextId = 1;

  const requests: GraphRecordedRequest[] = [];
  const posts: GraphRecordedPost[] = [];
  const faults: PendingFault[] = [];
  const photos = new Map<string, { url: string; attached: boolean }>();
  const containers = new Map<string, Container>();
  const metrics = new Map<string, GraphMetricValues | 'not-enough-viewers'>();
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const newId = (prefix: string) => `${prefix}${String(nextId++).padStart(6, '0')}`;
  const login = options.oauth
    ? new FacebookLogin({
        ...options.oauth,
        pages: [
          { id: pageId, name: 'Le Vieux Moulin', instagramAccountId: igUserId },
          { id: '200000000000001', name: 'Une autre page' },
        ],
        onPageToken: (token) => tokens.add(token),
        onPageTokenRevoked: (token) => tokens.delete(token),
      })
    : null;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => send(res, graphError(500, { code: 1, message: `double failure: ${String(error)}` })));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', 'http://double');
    const rawBody = await readBody(req);
    const bodyParams = parseBody(req.headers['content-type'], rawBody);
    const params: Record<string, unknown> = { ...Object.fromEntries(target.searchParams), ...bodyParams };
    const method = req.method ?? 'GET';
    const versioned = /^\/(v\d+\.\d+)(\/.*)?$/.exec(target.pathname);
    const record: GraphRecordedRequest = {
      method,
      version: versioned?.[1] ?? '',
      path: versioned?.[2] ?? target.pathname,
      url: req.url ?? '/',
      params,
      tokenVia: 'none',
      verdict: 'ok',
    };
    requests.push(record);
    const answer = (reply: GraphReply) => {
      if (record.verdict === 'ok' && reply.status >= 400) record.verdict = String(graphCode(reply.body) ?? reply.status);
      send(res, reply);
    };

    if (!versioned) return answer(graphError(400, { code: 2500, message: 'Unknown path components: the version prefix (/vNN.N) is missing' }));
    const loginReply = (reply: { status: number; body?: unknown; location?: string; destroy?: boolean }) => {
      if (reply.destroy) return void res.destroy();
      if (reply.location) return void res.writeHead(302, { Location: reply.location }).end();
      answer(new GraphReply(reply.status, reply.body));
    };
    if (login && method === 'GET' && record.path === '/dialog/oauth') return loginReply(login.dialog(target.searchParams));
    if (login && record.path === '/oauth/access_token') return loginReply(login.token(params, target.searchParams));

    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? stringParam(params.access_token);
    record.tokenVia = bearer ? 'bearer' : target.searchParams.has('access_token') ? 'query' : token ? 'form' : 'none';
    if (login && method === 'GET' && record.path === '/me/accounts') return loginReply(login.accounts(token, params));
    if (!token) return answer(graphError(400, { code: 104, message: 'An access token is required to request this resource.' }));
    if (!tokens.has(token)) return answer(graphError(400, { code: 190, message: 'Invalid OAuth access token - Cannot parse access token' }));

    const pending = takeFault(method, record.path);
    if (pending) {
      record.verdict = pending.kind;
      const immediate = faultReply(pending, record.path);
      if (immediate) return answer(immediate);
      if (pending.kind === 'timeout') {
        held.add(res);
        return;
      }
    }

    const reply = route(method, record.path, params, pending);
    if (pending?.kind === 'late-answer') {
      held.add(res);
      if (pending.holdMs !== undefined) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          held.delete(res);
          if (!res.destroyed && !res.writableEnded) answer(reply);
        }, pending.holdMs);
        timers.add(timer);
      }
      return;
    }
    answer(reply);
  }

  function takeFault(method: string, path: string): GraphFault | undefined {
    const index = faults.findIndex((f) => (!f.method || f.method === method) && (!f.path || f.path.test(path)));
    if (index < 0) return undefined;
    const pending = faults[index] as PendingFault;
    pending.remaining--;
    if (pending.remaining <= 0) faults.splice(index, 1);
    return pending.fault;
  }

  function faultReply(fault: GraphFault, path: string): GraphReply | undefined {
    switch (fault.kind) {
      case 'server-error':
        return graphError(fault.status ?? 500, { code: 2, message: 'An unexpected error has occurred. Please retry your request later.', is_transient: true });
      case 'throttled': {
        const code = fault.code ?? 4;
        return graphError(
          400,
          { code, message: `(#${code}) Application request limit reached`, is_transient: true },
          usageHeaders(path, { appPercent: 100, businessPercent: 100, regainMinutes: fault.regainMinutes ?? 10 }),
        );
      }
      case 'token-expired':
        return graphError(400, {
          code: 190,
          error_subcode: 463,
          message: 'Error validating access token: Session has expired on Sunday, 01-Mar-26 10:00:00 PST.',
          error_user_title: 'Session expired',
          error_user_msg: 'Your session has expired. Please log in again.',
        });
      case 'duplicate':
        return graphError(400, { code: 506, message: '(#506) Duplicate status message' });
      case 'graph-error':
        return graphError(fault.status ?? 400, fault.error, fault.headers);
      default:
        return undefined;
    }
  }

  function route(method: string, path: string, params: Record<string, unknown>, fault: GraphFault | undefined): GraphReply {
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [node, edge, extra] = segments;
    if (!node || extra !== undefined) return invalidParameter('Unknown path components');
    if (node === pageId) return pageRoute(method, edge, params);
    if (node === igUserId) return igUserRoute(method, edge, params, fault);
    if (method !== 'GET') return noSuchObject(node);
    if (edge === 'insights') return insights(node, stringParam(params.metric) ?? '');
    if (edge) return noSuchObject(node);
    return objectRead(node, stringParam(params.fields) ?? '');
  }

  // --- Facebook Page ---

  function pageRoute(method: string, edge: string | undefined, params: Record<string, unknown>): GraphReply {
    if (method === 'GET' && !edge) return new GraphReply(200, { id: pageId, name: 'Le Vieux Moulin' });
    if (method === 'GET' && (edge === 'published_posts' || edge === 'feed')) return listFacebook(params);
    if (method === 'POST' && edge === 'feed') return feedPost(params);
    if (method === 'POST' && edge === 'photos') return photoUpload(params);
    if (method === 'POST' && edge === 'videos') return videoPost(params);
    return noSuchObject(`${pageId}/${edge ?? ''}`);
  }

  function feedPost(params: Record<string, unknown>): GraphReply {
    const message = stringParam(params.message) ?? '';
    const attached = attachedMediaIds(params);
    if (attached === 'invalid') return invalidParameter('param attached_media must be an array of {"media_fbid": id}');
    for (const id of attached) {
      const photo = photos.get(id);
      if (!photo || photo.attached) return invalidParameter(`param attached_media: ${id} is not an unpublished photo of this Page`);
    }
    if (!message && attached.length === 0) return invalidParameter('Missing message or attachment');
    const id = `${pageId}_${newId('90')}`;
    attached.forEach((photoId) => ((photos.get(photoId) as { attached: boolean }).attached = true));
    recordPost('facebook', id, attached.length ? 'photos' : 'status', message, attached.map((p) => (photos.get(p) as { url: string }).url));
    return new GraphReply(200, { id });
  }

  function photoUpload(params: Record<string, unknown>): GraphReply {
    const url = stringParam(params.url);
    if (!url) return invalidParameter('param url must be a public image URL');
    if (unreachable.has(url)) return graphError(400, { code: 324, message: '(#324) Missing or invalid image file' });
    const id = newId('10');
    const published = stringParam(params.published) !== 'false';
    photos.set(id, { url, attached: published });
    if (!published) return new GraphReply(200, { id });
    const postId = `${pageId}_${id}`;
    recordPost('facebook', postId, 'photos', stringParam(params.caption) ?? stringParam(params.message) ?? '', [url]);
    return new GraphReply(200, { id, post_id: postId });
  }

  function videoPost(params: Record<string, unknown>): GraphReply {
    const fileUrl = stringParam(params.file_url);
    if (!fileUrl) return invalidParameter('param file_url or a video file is required');
    if (unreachable.has(fileUrl)) return graphError(400, { code: 389, message: 'Unable to fetch video file from URL.' });
    const id = newId('11');
    recordPost('facebook', `${pageId}_${id}`, 'video', stringParam(params.description) ?? '', [fileUrl]);
    return new GraphReply(200, { id });
  }

  function listFacebook(params: Record<string, unknown>): GraphReply {
    const since = Number(stringParam(params.since) ?? '-Infinity');
    const until = Number(stringParam(params.until) ?? 'Infinity');
    const items = posts
      .filter((p) => p.platform === 'facebook')
      .filter((p) => p.createdAt.getTime() / 1000 >= since && p.createdAt.getTime() / 1000 <= until)
      .reverse()
      .map((p) => ({ id: p.id, ...(p.text ? { message: p.text } : {}), created_time: graphTime(p.createdAt), permalink_url: p.permalink }));
    return page(items, params, ['id', 'message', 'created_time', 'permalink_url']);
  }

  // --- Instagram user ---

  function igUserRoute(method: string, edge: string | undefined, params: Record<string, unknown>, fault: GraphFault | undefined): GraphReply {
    if (method === 'GET' && !edge) return new GraphReply(200, { id: igUserId, username: 'levieuxmoulin' });
    if (method === 'GET' && edge === 'content_publishing_limit') {
      return new GraphReply(200, { data: [{ quota_usage: quotaUsage(), config: { quota_total: quotaTotal, quota_duration: 86_400 } }] });
    }
    if (method === 'GET' && edge === 'media') {
      const items = posts
        .filter((p) => p.platform === 'instagram')
        .reverse()
        .map((p) => ({
          id: p.id,
          caption: p.text,
          permalink: p.permalink,
          timestamp: graphTime(p.createdAt),
          media_type: p.kind === 'carousel' ? 'CAROUSEL_ALBUM' : p.kind === 'reels' ? 'VIDEO' : 'IMAGE',
        }));
      return page(items, params, ['id', 'caption', 'permalink', 'timestamp', 'media_type']);
    }
    if (method === 'POST' && edge === 'media') return createContainer(params, fault);
    if (method === 'POST' && edge === 'media_publish') return mediaPublish(params);
    return noSuchObject(`${igUserId}/${edge ?? ''}`);
  }

  function createContainer(params: Record<string, unknown>, fault: GraphFault | undefined): GraphReply {
    const caption = stringParam(params.caption) ?? '';
    if (caption.length > captionLimit) {
      return graphError(400, { code: 36004, error_subcode: 2207010, message: 'The caption is too long.', error_user_msg: `The caption must be at most ${captionLimit} characters.` });
    }
    const mediaType = stringParam(params.media_type);
    const carouselItem = stringParam(params.is_carousel_item) === 'true';
    const container: Container = { id: newId('178'), mediaUrls: [], video: false, carouselItem, children: [], caption, polls: 0, published: false };
    if (mediaType === 'CAROUSEL') {
      const children = (stringParam(params.children) ?? '').split(',').filter(Boolean);
      if (children.length < 2 || children.length > 10) return invalidParameter('param children must list 2 to 10 containers');
      for (const child of children) {
        const item = containers.get(child);
        if (!item || !item.carouselItem) return invalidParameter(`param children: ${child} is not a carousel item container`);
        container.mediaUrls.push(...item.mediaUrls);
      }
      container.children = children;
    } else {
      const imageUrl = stringParam(params.image_url);
      const videoUrl = stringParam(params.video_url);
      if (Boolean(imageUrl) === Boolean(videoUrl)) return invalidParameter('exactly one of image_url and video_url is required');
      if (videoUrl && mediaType !== (carouselItem ? 'VIDEO' : 'REELS')) {
        return invalidParameter('param media_type is invalid', `A video needs media_type=${carouselItem ? 'VIDEO' : 'REELS'}.`);
      }
      const url = (imageUrl ?? videoUrl) as string;
      if (unreachable.has(url)) {
        return graphError(400, {
          code: 9004,
          error_subcode: 2207052,
          message: 'The media could not be fetched from this uri.',
          error_user_title: 'Media download has failed.',
          error_user_msg: `The media could not be fetched from this uri: ${url}. Please check the url and try again.`,
        });
      }
      container.mediaUrls = [url];
      container.video = Boolean(videoUrl);
    }
    if (fault?.kind === 'container-error') container.errorStatus = fault.status ?? 'Error: Media upload has failed with error code 2207026';
    containers.set(container.id, container);
    return new GraphReply(200, { id: container.id });
  }

  function containerStatus(container: Container): { status_code: string; status: string } {
    if (container.published) return { status_code: 'PUBLISHED', status: 'Published: Media has been published.' };
    if (container.polls < pollsBeforeFinished) return { status_code: 'IN_PROGRESS', status: 'In Progress: Media is still being processed.' };
    if (container.errorStatus) return { status_code: 'ERROR', status: container.errorStatus };
    return { status_code: 'FINISHED', status: 'Finished: Media has been uploaded and it is ready to be published.' };
  }

  function mediaPublish(params: Record<string, unknown>): GraphReply {
    const container = containers.get(stringParam(params.creation_id) ?? '');
    if (!container || container.carouselItem) return invalidParameter('param creation_id must be a media container of this user');
    if (containerStatus(container).status_code !== 'FINISHED') {
      return graphError(400, {
        code: 9007,
        error_subcode: 2207027,
        message: 'Media ID is not available',
        error_user_title: 'Media not ready',
        error_user_msg: 'The media is not ready for publishing, please wait for a moment.',
      });
    }
    if (quotaUsage() >= quotaTotal) {
      return graphError(400, {
        code: 9,
        error_subcode: 2207042,
        message: 'Application request limit reached',
        error_user_title: 'Maximum posts reached',
        error_user_msg: 'You reached maximum number of posts that is allowed to be published by Content Publishing API.',
      });
    }
    container.published = true;
    const id = newId('1790');
    const kind = container.children.length ? 'carousel' : container.video ? 'reels' : 'image';
    recordPost('instagram', id, kind, container.caption, container.mediaUrls);
    return new GraphReply(200, { id });
  }

  function quotaUsage(): number {
    if (quotaOverride !== undefined) return quotaOverride;
    const dayAgo = Date.now() - 86_400_000;
    return posts.filter((p) => p.platform === 'instagram' && p.createdAt.getTime() >= dayAgo).length;
  }

  // --- Objects and insights ---

  function objectRead(id: string, fields: string): GraphReply {
    const container = containers.get(id);
    if (container) {
      const status = containerStatus(container);
      containerPolls++;
      container.polls++;
      return new GraphReply(200, { ...status, id });
    }
    const post = findPost(id);
    if (!post) return noSuchObject(id);
    const values = metrics.get(post.id);
    const counts = values && values !== 'not-enough-viewers' ? values : {};
    if (post.platform === 'instagram') {
      return new GraphReply(200, { id, permalink: post.permalink, caption: post.text, timestamp: graphTime(post.createdAt), like_count: counts.likes ?? 0, comments_count: counts.comments ?? 0 });
    }
    const body: Record<string, unknown> = { id, message: post.text, created_time: graphTime(post.createdAt), permalink_url: post.permalink };
    if (fields.includes('reactions')) body.reactions = { data: [], summary: { total_count: counts.reactions ?? 0, viewer_reaction: 'NONE' } };
    if (fields.includes('comments')) body.comments = { data: [], summary: { order: 'ranked', total_count: counts.comments ?? 0, can_comment: true } };
    if (fields.includes('shares') && (counts.shares ?? 0) > 0) body.shares = { count: counts.shares };
    return new GraphReply(200, body);
  }

  /** A post by its id; a Facebook video is also known by the video id its upload answered. */
  function findPost(id: string): GraphRecordedPost | undefined {
    return posts.find((p) => p.id === id || (p.platform === 'facebook' && p.kind === 'video' && p.id === `${pageId}_${id}`));
  }

  function insights(id: string, metricList: string): GraphReply {
    const post = findPost(id);
    if (!post) return noSuchObject(id);
    const values = metrics.get(post.id);
    if (values === 'not-enough-viewers') return graphError(400, { code: 10, message: '(#10) Not enough viewers for the media to show insights' });
    const known = post.platform === 'facebook' ? fbPostMetrics : igMediaMetrics;
    const names = metricList.split(',').filter(Boolean);
    if (names.length === 0) return graphError(400, { code: 3001, error_subcode: 1504028, message: 'Invalid query', error_user_msg: 'No metric was specified to be fetched.' });
    const invalid = names.find((name) => !known.has(name));
    if (invalid) return invalidParameter('The value must be a valid insights metric', `${invalid} is not a valid insights metric`);
    return new GraphReply(200, {
      data: names.map((name) => ({ name, period: 'lifetime', values: [{ value: values?.[name] ?? 0 }], title: name, description: name, id: `${id}/insights/${name}/lifetime` })),
    });
  }

  // --- Helpers ---

  function recordPost(platform: GraphRecordedPost['platform'], id: string, kind: GraphRecordedPost['kind'], text: string, mediaUrls: string[]): void {
    const permalink = platform === 'facebook' ? `https://www.facebook.com/${id}` : `https://www.instagram.com/p/${id.slice(-8)}/`;
    posts.push({ platform, id, kind, text, mediaUrls, createdAt: new Date(), permalink });
  }

  function page(items: Array<Record<string, unknown>>, params: Record<string, unknown>, knownFields: string[]): GraphReply {
    const limit = Math.max(1, Number(stringParam(params.limit) ?? 25));
    const offset = Number(stringParam(params.after) ? Buffer.from(stringParam(params.after) as string, 'base64url').toString() : 0);
    const requested = (stringParam(params.fields) ?? 'id').split(',').filter((f) => knownFields.includes(f));
    const slice = items.slice(offset, offset + limit).map((item) => Object.fromEntries(Object.entries(item).filter(([key]) => key === 'id' || requested.includes(key))));
    const cursor = (n: number) => Buffer.from(String(n)).toString('base64url');
    const paging: Record<string, unknown> = { cursors: { before: cursor(offset), after: cursor(offset + slice.length) } };
    if (offset + limit < items.length) paging.next = `https://graph.facebook.com/next?after=${cursor(offset + slice.length)}`;
    return new GraphReply(200, { data: slice, paging });
  }

  function usageHeaders(path: string, levels: Required<GraphUsageLevels>): Record<string, string> {
    const owner = path.startsWith(`/${igUserId}`) ? igUserId : pageId;
    const percent = (p: number) => ({ call_count: p, total_cputime: Math.floor(p / 2), total_time: Math.floor(p / 2) });
    return {
      'X-App-Usage': JSON.stringify(percent(levels.appPercent)),
      'X-Business-Use-Case-Usage': JSON.stringify({
        [owner]: [{ type: owner === igUserId ? 'instagram' : 'pages', ...percent(levels.businessPercent), estimated_time_to_regain_access: levels.regainMinutes }],
      }),
    };
  }

  function send(res: ServerResponse, reply: GraphReply): void {
    if (res.destroyed || res.writableEnded) return;
    const path = new URL(res.req.url ?? '/', 'http://double').pathname.replace(/^\/v\d+\.\d+/, '');
    res
      .writeHead(reply.status, {
        'Content-Type': 'application/json; charset=UTF-8',
        'x-fb-trace-id': randomBytes(8).toString('base64url'),
        ...usageHeaders(path, usage),
        ...reply.headers,
      })
      .end(JSON.stringify(reply.body));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    posts,
    fail(fault, faultOptions = {}) {
      const defaults: Record<string, { method?: string; path?: RegExp }> = {
        'late-answer': { method: 'POST', path: /\/(feed|videos|media_publish)$/ },
        'container-error': { method: 'POST', path: new RegExp(`^/${igUserId}/media$`) },
      };
      const when = faultOptions.when ?? defaults[fault.kind] ?? {};
      faults.push({ fault, remaining: faultOptions.times ?? 1, method: when.method, path: when.path });
    },
    setUsage(levels) {
      usage = { ...usage, ...levels };
    },
    setMetrics(postId, values) {
      metrics.set(postId, values);
    },
    setQuotaUsage(used) {
      quotaOverride = used;
    },
    setContainerPollsBeforeFinished(polls) {
      pollsBeforeFinished = polls;
    },
    containerPolls: () => containerPolls,
    login,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function stringParam(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function graphCode(body: unknown): number | undefined {
  const error = body && typeof body === 'object' ? (body as { error?: { code?: unknown } }).error : undefined;
  return typeof error?.code === 'number' ? error.code : undefined;
}

/** attached_media as Graph takes it: attached_media[0]=…, attached_media[1]=… (form) or an array (JSON or a JSON string). */
function attachedMediaIds(params: Record<string, unknown>): string[] | 'invalid' {
  let entries: unknown[] = [];
  if (params.attached_media !== undefined) {
    const value = typeof params.attached_media === 'string' ? safeJson(params.attached_media) : params.attached_media;
    if (!Array.isArray(value)) return 'invalid';
    entries = value;
  } else {
    entries = Object.keys(params)
      .map((key) => /^attached_media\[(\d+)\]$/.exec(key))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((m) => {
        const value = params[m[0]];
        return typeof value === 'string' ? safeJson(value) : value;
      });
  }
  const ids: string[] = [];
  for (const entry of entries) {
    const id = entry && typeof entry === 'object' ? stringParam((entry as { media_fbid?: unknown }).media_fbid) : undefined;
    if (!id) return 'invalid';
    ids.push(id);
  }
  return ids;
}

function parseBody(contentType: string | undefined, raw: string): Record<string, unknown> {
  if (!raw) return {};
  if ((contentType ?? '').includes('application/json')) {
    const json = safeJson(raw);
    return json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
