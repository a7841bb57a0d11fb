import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import { guardedRequestOptions } from '../../infrastructure/http/guarded-agents.js';
import { OutboundAllowlist } from '../../infrastructure/http/outbound-allowlist.js';
import { checkOutboundUrl, outboundRefusalOf, type OutboundCheckOptions } from '../../infrastructure/http/outbound-guard.js';
import { mediaKind, PlatformError } from './connector.js';
import { brief } from './http.js';

/**
 * Attaching media to a post on X (API v2): the file is downloaded from its public URL (X does not fetch URLs), then
 * sent through the chunked media upload:
 * 1. POST /2/media/upload/initialize {media_type, total_bytes, media_category} → {data: {id}};
 * 2. POST /2/media/upload/{id}/append, multipart `segment_index` + `media`, once per chunk (X takes ≤ 5 MB a chunk);
 * 3. POST /2/media/upload/{id}/finalize → {data: {processing_info?}};
 * 4. while processing_info.state is pending / in_progress: wait check_after_secs, then
 *    GET /2/media/upload?command=STATUS&media_id={id}, until succeeded (or failed).
 * The media id then goes into the post's media.media_ids.
 */

/**
 * The calls this module needs, made by the connector with its credentials and its error mapping. `redoable`: the POST
 * may be sent again after a passing failure (INITIALIZE makes a new, unused media id; APPEND rewrites its segment);
 * FINALIZE is not, a second one may be refused once the first went through.
 */
export interface XMediaApi {
  post<T>(path: string, body?: { json?: unknown; form?: FormData; redoable?: boolean }): Promise<T>;
  get<T>(path: string, query: Record<string, string>): Promise<T>;
}

export interface XMediaUploadOptions {
  /** Per download; a video takes longer to fetch than an API call. */
  downloadTimeoutMs: number;
  /** How long to wait for X to process a video before giving up (the post is not made; retrying is safe). */
  processingTimeoutMs?: number;
  /** Which media hosts may be reached: public ones, plus COMM_OUTBOUND_ALLOWLIST. */
  outbound?: OutboundCheckOptions;
}

/** Below X's 5 MB per APPEND, with room for the multipart envelope. */
export const xChunkBytes = 4 * 1024 * 1024;

/** X's own ceilings (images 5 MB, GIF 15 MB, video 512 MB): anything larger would be refused after the download. */
const maxBytes = { image: 5 * 1024 * 1024, gif: 15 * 1024 * 1024, video: 512 * 1024 * 1024 };

/** X may answer check_after_secs: 0; polling is still spaced so a slow processing does not spend the rate limit. */
const minPollMs = 250;
const defaultProcessingTimeoutMs = 5 * 60_000;

const typesByExtension: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
};

interface ProcessingInfo {
  state?: string;
  check_after_secs?: number;
  error?: { message?: string; name?: string; code?: number };
}

interface MediaAnswer {
  data?: { id?: string; processing_info?: ProcessingInfo };
  processing_info?: ProcessingInfo;
}

export interface DownloadedMedia {
  bytes: Buffer;
  mediaType: string;
}

/** Uploads the media at `url` (the position-th of the post, for messages) and returns its X media id. */
export async function uploadTweetMedia(api: XMediaApi, url: string, position: number, options: XMediaUploadOptions): Promise<string> {
  const media = await downloadTweetMedia(url, position, options.downloadTimeoutMs, options.outbound);
  const category = mediaCategory(media.mediaType);
  const init = await api.post<MediaAnswer>('/2/media/upload/initialize', {
    json: { media_type: media.mediaType, total_bytes: media.bytes.length, media_category: category },
    redoable: true,
  });
  const id = init.data?.id;
  if (!id) throw new PlatformError('twitter', 'transient', `twitter: media ${position}: the upload was initialized without a media id`);

  for (let segment = 0, offset = 0; offset < media.bytes.length; segment++, offset += xChunkBytes) {
    const form = new FormData();
    form.append('segment_index', String(segment));
    form.append('media', new Blob([media.bytes.subarray(offset, offset + xChunkBytes)]), 'chunk');
    await api.post(`/2/media/upload/${encodeURIComponent(id)}/append`, { form, redoable: true });
  }

  const finalized = await api.post<MediaAnswer>(`/2/media/upload/${encodeURIComponent(id)}/finalize`);
  await waitForProcessing(api, id, position, processingInfo(finalized), options.processingTimeoutMs ?? defaultProcessingTimeoutMs);
  return id;
}

async function waitForProcessing(api: XMediaApi, id: string, position: number, first: ProcessingInfo | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let info = first;
  // No processing_info means the media is ready (images, per X's FINALIZE documentation).
  while (info && info.state !== 'succeeded') {
    if (info.state === 'failed') {
      const reason = info.error?.message ?? info.error?.name;
      throw new PlatformError('twitter', 'permanent', `twitter: media ${position} was refused by X's processing${reason ? `: ${brief(reason)}` : ''}`, {
        ...(info.error?.code !== undefined ? { platformCode: info.error.code } : {}),
      });
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new PlatformError('twitter', 'transient', `twitter: media ${position} still processing after ${Math.round(timeoutMs / 1000)} s`);
    }
    await sleep(Math.min(remaining, Math.max(minPollMs, (info.check_after_secs ?? 1) * 1000)));
    info = processingInfo(await api.get<MediaAnswer>('/2/media/upload', { command: 'STATUS', media_id: id }));
  }
}

function processingInfo(answer: MediaAnswer | undefined): ProcessingInfo | undefined {
  return answer?.data?.processing_info ?? answer?.processing_info;
}

function mediaCategory(mediaType: string): 'tweet_image' | 'tweet_gif' | 'tweet_video' {
  if (mediaType === 'image/gif') return 'tweet_gif';
  return mediaType.startsWith('video/') ? 'tweet_video' : 'tweet_image';
}

/**
 * Fetches a public media file. Redirects are followed (CDNs use them; no credential travels with this request).
 * A refusal by the media host (404, 403, too large) is permanent: asking again gives the same answer; a host that is
 * down or slow is transient. Messages name the media by position, not URL: URLs may carry signed query strings.
 * A media host at a non-public address is refused (outbound-guard.ts), redirects and DNS answers included.
 */
export async function downloadTweetMedia(
  url: string,
  position: number,
  timeoutMs: number,
  outbound: OutboundCheckOptions = { allowlist: OutboundAllowlist.none },
): Promise<DownloadedMedia> {
  const failure = (errorClass: 'permanent' | 'transient', why: string, status?: number) =>
    new PlatformError('twitter', errorClass, `twitter: media ${position} could not be downloaded (${why})`, status ? { status } : {});
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw failure('permanent', 'not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw failure('permanent', 'not an http(s) URL');

  const extension = /\.([a-z0-9]+)$/i.exec(parsed.pathname)?.[1]?.toLowerCase();
  const cap = extension === 'gif' ? maxBytes.gif : mediaKind(url) === 'video' ? maxBytes.video : maxBytes.image;
  let response;
  try {
    await checkOutboundUrl(url, outbound);
    response = await axios.get<ArrayBuffer>(url, {
      ...guardedRequestOptions(outbound.allowlist, outbound.resolve),
      responseType: 'arraybuffer',
      timeout: timeoutMs,
      maxRedirects: 3,
      maxContentLength: cap,
      validateStatus: () => true,
    });
  } catch (error) {
    const refusal = outboundRefusalOf(error);
    if (refusal) throw failure(refusal.retryable ? 'transient' : 'permanent', refusal.reason);
    if (axios.isAxiosError(error) && /maxContentLength/i.test(error.message)) throw failure('permanent', `larger than ${cap / (1024 * 1024)} MB`);
    const code = axios.isAxiosError(error) ? error.code : undefined;
    throw failure('transient', code ?? 'network error');
  }
  if (response.status >= 500 || response.status === 429 || response.status === 408) throw failure('transient', `HTTP ${response.status}`, response.status);
  if (response.status < 200 || response.status >= 300) throw failure('permanent', `HTTP ${response.status}`, response.status);

  const bytes = Buffer.from(response.data);
  if (bytes.length === 0) throw failure('permanent', 'empty file');
  const declared = String(response.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const mediaType = /^(image|video)\//.test(declared) ? declared : extension ? typesByExtension[extension] : undefined;
  if (!mediaType) throw failure('permanent', 'unknown media type');
  return { bytes, mediaType };
}
