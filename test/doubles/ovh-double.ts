import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the OVHcloud API (SMS part) on 127.0.0.1. Like OVH it:
 * - serves GET /1.0/auth/time (unsigned) from its own clock, which may be set apart from ours (`clockOffsetSeconds`);
 * - checks X-Ovh-Application, X-Ovh-Consumer, X-Ovh-Timestamp (within `timestampWindowSeconds` of its clock) and
 *   X-Ovh-Signature = "$1$" + sha1(AS+CK+METHOD+full URL+body+timestamp), answering OVH's error bodies
 *   (403 INVALID_KEY, 403 INVALID_CREDENTIAL, 400 INVALID_SIGNATURE, 400 QUERY_TIME_OUT [the last one's code and
 *   text are not from OVH's documentation]);
 * - POST /1.0/sms/{service}/jobs → {totalCreditsRemoved, ids, validReceivers, invalidReceivers};
 *   GET /1.0/sms/{service} → the account; GET /1.0/sms/{service}/outgoing/{id} → a sent SMS with its credits;
 *   an unknown service → 404 Client::NotFound.
 * Faults are injected with fail(); numbers listed in invalidReceivers come back refused.
 */

export interface OvhDoubleOptions {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
  serviceName: string;
  /** The double's clock minus ours, in seconds. */
  clockOffsetSeconds?: number;
  timestampWindowSeconds?: number;
}

export interface OvhRecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  body: unknown;
  /** 'ok' when the signature and timestamp were accepted, else the error code answered. */
  verdict: string;
}

export type OvhFault = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

export interface OvhDouble {
  url: string;
  requests: OvhRecordedRequest[];
  /** Jobs the double accepted. */
  jobs: Array<{ id: number; receivers: string[]; message: string; sender?: string; noStopClause?: boolean; senderForResponse?: boolean }>;
  /** How many times /auth/time was read. */
  timeReads(): number;
  /** The next `times` signed calls (after their signature is checked) get this answer. */
  fail(fault: OvhFault, times?: number): void;
  setClockOffset(seconds: number): void;
  invalidReceivers: Set<string>;
  stop(): Promise<void>;
}

export async function startOvhDouble(options: OvhDoubleOptions): Promise<OvhDouble> {
  let clockOffset = options.clockOffsetSeconds ?? 0;
  const window = options.timestampWindowSeconds ?? 30;
  const requests: OvhRecordedRequest[] = [];
  const jobs: OvhDouble['jobs'] = [];
  const faults: OvhFault[] = [];
  const invalidReceivers = new Set<string>();
  const hanging = new Set<ServerResponse>();
  let timeReads = 0;
  let nextId = 123_456_000;
  const serverNow = () => Math.floor(Date.now() / 1000) + clockOffset;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => send(res, 500, { class: 'Server::InternalServerError', message: 'double failure' }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] as string;
    const record: OvhRecordedRequest = { method: req.method ?? '', path, headers: req.headers, rawBody, body: parseJson(rawBody), verdict: 'ok' };
    requests.push(record);

    if (req.method === 'GET' && path === '/1.0/auth/time') {
      timeReads++;
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' }).end(String(serverNow()));
      return;
    }

    const refusal = checkSignature(req, rawBody);
    if (refusal) {
      record.verdict = refusal.errorCode;
      send(res, refusal.status, { errorCode: refusal.errorCode, httpCode: refusal.httpCode, message: refusal.message });
      return;
    }

    const fault = faults.shift();
    if (fault === 'hang') {
      hanging.add(res);
      return;
    }
    if (fault) {
      record.verdict = `fault ${fault.status}`;
      send(res, fault.status, fault.body ?? {}, fault.headers);
      return;
    }

    // An SMS sent, as the history shows it: the credits it used (one per 160 characters here).
    const outgoing = /^\/1\.0\/sms\/([^/]+)\/outgoing\/(\d+)$/.exec(path);
    if (outgoing && req.method === 'GET' && decodeURIComponent(outgoing[1] as string) === options.serviceName) {
      const job = jobs.find((j) => j.id === Number(outgoing[2]));
      if (job) send(res, 200, { id: job.id, credits: Math.max(1, Math.ceil(job.message.length / 160)), receiver: job.receivers[0], message: job.message });
      else send(res, 404, { class: 'Client::NotFound', message: 'The requested object (id) does not exist' });
      return;
    }
    const service = /^\/1\.0\/sms\/([^/]+)(\/jobs)?$/.exec(path);
    if (!service || decodeURIComponent(service[1] as string) !== options.serviceName) {
      send(res, 404, { class: 'Client::NotFound', message: 'This service does not exist' });
      return;
    }
    if (req.method === 'GET' && !service[2]) {
      send(res, 200, { name: options.serviceName, creditsLeft: 42, status: 'enable' });
      return;
    }
    if (req.method === 'POST' && service[2]) {
      const job = record.body as { receivers?: unknown; message?: unknown; sender?: unknown; noStopClause?: unknown; senderForResponse?: unknown } | undefined;
      if (!job || !Array.isArray(job.receivers) || typeof job.message !== 'string' || !job.message) {
        send(res, 400, { class: 'Client::BadRequest', message: 'Invalid body' });
        return;
      }
      const receivers = job.receivers.map(String);
      const invalid = receivers.filter((r) => invalidReceivers.has(r));
      const valid = receivers.filter((r) => !invalidReceivers.has(r));
      const ids = valid.map(() => nextId++);
      valid.forEach((_, i) =>
        jobs.push({
          id: ids[i] as number,
          receivers: [valid[i] as string],
          message: job.message as string,
          ...(typeof job.sender === 'string' ? { sender: job.sender } : {}),
          ...(typeof job.noStopClause === 'boolean' ? { noStopClause: job.noStopClause } : {}),
          ...(typeof job.senderForResponse === 'boolean' ? { senderForResponse: job.senderForResponse } : {}),
        }),
      );
      send(res, 200, { totalCreditsRemoved: valid.length, ids, validReceivers: valid, invalidReceivers: invalid, tag: '' });
      return;
    }
    send(res, 405, { class: 'Client::MethodNotAllowed', message: 'Method not allowed' });
  }

  function checkSignature(req: IncomingMessage, rawBody: string): { status: number; httpCode: string; errorCode: string; message: string } | undefined {
    const h = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    if (h('x-ovh-application') !== options.applicationKey) {
      return { status: 403, httpCode: '403 Forbidden', errorCode: 'INVALID_KEY', message: 'Invalid application key' };
    }
    if (h('x-ovh-consumer') !== options.consumerKey) {
      return { status: 403, httpCode: '403 Forbidden', errorCode: 'INVALID_CREDENTIAL', message: 'This credential is not valid' };
    }
    const timestamp = h('x-ovh-timestamp') ?? '';
    const signature = h('x-ovh-signature') ?? '';
    const url = `http://${req.headers.host}${req.url}`;
    const expected = `$1$${createHash('sha1')
      .update([options.applicationSecret, options.consumerKey, (req.method ?? '').toUpperCase(), url, rawBody, timestamp].join('+'), 'utf8')
      .digest('hex')}`;
    if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) {
      return { status: 400, httpCode: '400 Bad Request', errorCode: 'INVALID_SIGNATURE', message: 'Invalid signature' };
    }
    if (!/^\d+$/.test(timestamp) || Math.abs(Number(timestamp) - serverNow()) > window) {
      return { status: 400, httpCode: '400 Bad Request', errorCode: 'QUERY_TIME_OUT', message: 'Query out of time' };
    }
    return undefined;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    jobs,
    invalidReceivers,
    timeReads: () => timeReads,
    fail(fault, times = 1) {
      for (let i = 0; i < times; i++) faults.push(fault);
    },
    setClockOffset(seconds) {
      clockOffset = seconds;
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
