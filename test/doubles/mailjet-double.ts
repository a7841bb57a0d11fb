import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Mailjet's Send API v3.1, speaking its contract as documented and as Mailjet's own clients
 * decode it:
 * - POST /v3.1/send with basic auth (API key : secret key); GET /v3/REST/myprofile for heartbeats;
 * - bad credentials → 401 {ErrorIdentifier, StatusCode: 401, ErrorMessage: "API key authentication/authorization
 *   failure. ..."};
 * - unparseable JSON → 400 {ErrorIdentifier, ErrorCode: "mj-0002", StatusCode: 400, ErrorMessage: "Malformed JSON..."};
 * - a message breaking the rules → 400 {Messages: [{Status: "error", Errors: [{ErrorIdentifier, ErrorCode,
 *   StatusCode, ErrorMessage, ErrorRelatedTo}]}]} with mj-0004 (type mismatch), mj-0005 (mandatory property
 *   missing), mj-0013 (invalid e-mail address), send-0003 (no TextPart, HTMLPart or TemplateID);
 * - a valid one → 200 {Messages: [{Status: "success", CustomID, To: [{Email, MessageUUID, MessageID, MessageHref}],
 *   Cc: [], Bcc: []}]}. MessageIDs are 64-bit integers above Number.MAX_SAFE_INTEGER, written as raw JSON digits,
 *   as Mailjet does (e.g. 576460772022727317).
 * Faults on demand: fail({status, times}) answers the next `times` requests with that status (429, 500, ...);
 * fail({delayMs}) holds them first (delay beyond a client's timeout = a hanging server).
 */

export interface MailjetDoubleOptions {
  apiKey?: string;
  apiSecret?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Whether the basic-auth credentials matched. */
  authorized: boolean;
  rawBody: string;
  /** The parsed JSON body, when it parsed. */
  body: unknown;
}

export interface MailjetFault {
  /** HTTP status to answer with (e.g. 429, 500, 503). Absent: answer normally, after delayMs. */
  status?: number;
  /** How many requests the fault applies to (default 1). */
  times?: number;
  /** Hold each answer this long (ms). */
  delayMs?: number;
  /** Extra response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
  /** Response body; default a Mailjet top-level error for `status`. */
  body?: unknown;
}

export interface SentMessage {
  messageId: string;
  messageUuid: string;
  email: string;
  customId: string | undefined;
  message: Record<string, unknown>;
}

export interface MailjetDouble {
  url: string;
  apiKey: string;
  apiSecret: string;
  requests: RecordedRequest[];
  /** Messages the double accepted, in order. */
  sent: SentMessage[];
  fail(next: MailjetFault): void;
  stop(): Promise<void>;
}

const AUTH_FAILURE =
  'API key authentication/authorization failure. You may be unauthorized to access the API or your API key may be expired. Visit API keys management section to check your keys.';

interface DoubleError {
  ErrorIdentifier: string;
  ErrorCode: string;
  StatusCode: number;
  ErrorMessage: string;
  ErrorRelatedTo: string[];
}

export async function startMailjetDouble(options: MailjetDoubleOptions = {}): Promise<MailjetDouble> {
  const apiKey = options.apiKey ?? 'mj-public-key';
  const apiSecret = options.apiSecret ?? 'mj-secret-key';
  const expectedAuth = `Basic ${Buffer.from(`${apiKey}:${apiSecret}`).toString('base64')}`;
  const requests: RecordedRequest[] = [];
  const sent: SentMessage[] = [];
  const faults: MailjetFault[] = [];
  const pendingTimers = new Set<NodeJS.Timeout>();
  // 2^59 + n: above Number.MAX_SAFE_INTEGER, so a client reading MessageID as a JS number loses digits.
  let nextMessageId = 576_460_752_303_423_488n + 1_000n;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const authorized = req.headers.authorization === expectedAuth;
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, authorized, rawBody, body });

    const fault = faults[0];
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) faults.shift();
      if (fault.delayMs) await sleep(fault.delayMs, pendingTimers);
      if (res.destroyed) return;
      if (fault.status !== undefined) {
        const errorBody = fault.body ?? {
          ErrorIdentifier: randomUUID(),
          StatusCode: fault.status,
          ErrorMessage: fault.status === 429 ? 'Too many requests' : 'Internal Server Error',
        };
        return json(res, fault.status, errorBody, fault.headers);
      }
    }

    if (!authorized) return json(res, 401, { ErrorIdentifier: randomUUID(), StatusCode: 401, ErrorMessage: AUTH_FAILURE });

    if (req.method === 'GET' && path === '/v3/REST/myprofile') {
      return json(res, 200, { Count: 1, Data: [{ ID: 42, CompanyName: 'Le Vieux Moulin', UserID: 4242 }], Total: 1 });
    }
    if (req.method !== 'POST' || path !== '/v3.1/send') {
      return json(res, 404, { ErrorIdentifier: randomUUID(), StatusCode: 404, ErrorMessage: 'Object not found' });
    }
    if (body === undefined || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return json(res, 400, {
        ErrorIdentifier: randomUUID(),
        ErrorCode: 'mj-0002',
        StatusCode: 400,
        ErrorMessage: 'Malformed JSON, please review the syntax and properties types.',
      });
    }
    const messages = (body as { Messages?: unknown }).Messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      return json(res, 400, {
        ErrorIdentifier: randomUUID(),
        ErrorCode: 'mj-0005',
        StatusCode: 400,
        ErrorMessage: 'The Messages is mandatory but missing from the input',
        ErrorRelatedTo: ['Messages'],
      });
    }

    const checked = messages.map((m) => ({ message: m as Record<string, unknown>, errors: validateMessage(m) }));
    const anyError = checked.some((c) => c.errors.length > 0);
    const results = checked.map(({ message, errors }) => {
      if (errors.length > 0) return { Status: 'error', Errors: errors };
      // With an error anywhere, nothing is sent (our reading of Mailjet's all-or-nothing validation).
      if (anyError) return { Status: 'error', Errors: [] };
      const customId = typeof message.CustomID === 'string' ? message.CustomID : undefined;
      const to = (message.To as { Email: string }[]).map((recipient) => {
        const id = (nextMessageId++).toString();
        const uuid = randomUUID();
        sent.push({ messageId: id, messageUuid: uuid, email: recipient.Email, customId, message });
        return { Email: recipient.Email, MessageUUID: uuid, MessageID: `@@${id}@@`, MessageHref: `https://api.mailjet.com/v3/REST/message/${id}` };
      });
      return { Status: 'success', CustomID: customId ?? '', To: to, Cc: [], Bcc: [] };
    });
    // MessageID as raw digits, the way Mailjet writes it (too large for a JS number).
    const text = JSON.stringify({ Messages: results }).replace(/"@@(\d+)@@"/g, '$1');
    res.writeHead(anyError ? 400 : 200, { 'content-type': 'application/json' });
    res.end(text);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { ErrorIdentifier: randomUUID(), StatusCode: 500, ErrorMessage: String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    apiSecret,
    requests,
    sent,
    fail(next: MailjetFault) {
      faults.push({ times: 1, ...next });
    },
    async stop() {
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const EMAIL = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]+$/;

function validateMessage(input: unknown): DoubleError[] {
  const errors: DoubleError[] = [];
  const error = (code: string, message: string, related: string[]): void => {
    errors.push({ ErrorIdentifier: randomUUID(), ErrorCode: code, StatusCode: 400, ErrorMessage: message, ErrorRelatedTo: related });
  };
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    error('mj-0004', 'Type mismatch. Expected type "message".', ['Messages']);
    return errors;
  }
  const m = input as Record<string, unknown>;

  if (m.From === undefined) error('mj-0005', 'The From is mandatory but missing from the input', ['From']);
  else if (!m.From || typeof m.From !== 'object' || Array.isArray(m.From)) error('mj-0004', 'Type mismatch. Expected type "email".', ['From']);
  else checkAddress(m.From as Record<string, unknown>, 'From', error);

  if (m.To === undefined && m.Cc === undefined && m.Bcc === undefined) error('mj-0005', 'The To is mandatory but missing from the input', ['To']);
  if (m.To !== undefined) {
    if (!Array.isArray(m.To)) error('mj-0004', 'Type mismatch. Expected type "array of emails".', ['To']);
    else if (m.To.length === 0) error('mj-0005', 'The To is mandatory but missing from the input', ['To']);
    else
      m.To.forEach((recipient, i) => {
        if (!recipient || typeof recipient !== 'object') error('mj-0004', 'Type mismatch. Expected type "email".', [`To[${i}]`]);
        else checkAddress(recipient as Record<string, unknown>, `To[${i}]`, error);
      });
  }

  for (const field of ['Subject', 'TextPart', 'HTMLPart', 'CustomID', 'EventPayload']) {
    if (m[field] !== undefined && typeof m[field] !== 'string') error('mj-0004', 'Type mismatch. Expected type "string".', [field]);
  }
  if (m.Headers !== undefined) {
    const headers = m.Headers;
    if (!headers || typeof headers !== 'object' || Array.isArray(headers)) error('mj-0004', 'Type mismatch. Expected type "object".', ['Headers']);
    else
      for (const [name, value] of Object.entries(headers)) {
        if (typeof value !== 'string') error('mj-0004', 'Type mismatch. Expected type "string".', [`Headers.${name}`]);
      }
  }
  if (!m.TextPart && !m.HTMLPart && m.TemplateID === undefined) {
    error('send-0003', 'At least "HTMLPart", "TextPart" or "TemplateID" must be provided.', ['HTMLPart', 'TextPart']);
  }
  return errors;
}

function checkAddress(address: Record<string, unknown>, path: string, error: (code: string, message: string, related: string[]) => void): void {
  if (address.Email === undefined) error('mj-0005', `The ${path}.Email is mandatory but missing from the input`, [`${path}.Email`]);
  else if (typeof address.Email !== 'string' || !EMAIL.test(address.Email)) {
    error('mj-0013', `"${String(address.Email)}" is an invalid email address.`, [`${path}.Email`]);
  }
  if (address.Name !== undefined && typeof address.Name !== 'string') error('mj-0004', 'Type mismatch. Expected type "string".', [`${path}.Name`]);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number, timers: Set<NodeJS.Timeout>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      resolve();
    }, ms);
    timers.add(timer);
  });
}
