import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A SendGrid /v3/mail/send that keeps every message it accepted, repeats included: which notification
 * (custom_args.notification_id), when, the X-Message-Id it answered, and which worker process sent it. Each worker is
 * given its own base URL (`<double>/<sender>`), so the first path segment names the sender; a duplicate can then be
 * traced to the process that sent the earlier copy, and to whether that process was killed before recording it.
 */

export interface SendGridReceipt {
  notificationId: string;
  sender: string;
  at: number;
  messageId: string;
}

export interface RecordingSendGrid {
  url: string;
  /** By notification id, in the order received. */
  receipts: Map<string, SendGridReceipt[]>;
  requests(): number;
  close(): Promise<void>;
}

export async function startRecordingSendGrid(): Promise<RecordingSendGrid> {
  const receipts = new Map<string, SendGridReceipt[]>();
  let counter = 0;
  let requests = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://double').pathname;
      const match = /^\/([^/]+)\/v3\/(.+)$/.exec(path);
      const sender = match?.[1] ?? 'unknown';
      const endpoint = match?.[2] ?? path;
      if (request.method === 'GET') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"scopes":["mail.send"]}');
        return;
      }
      if (endpoint !== 'mail/send') {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"message":"not found"}]}');
        return;
      }
      let body: { personalizations?: { custom_args?: { notification_id?: string } }[] };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"message":"bad json"}]}');
        return;
      }
      requests++;
      const messageId = `${sender}.${++counter}`;
      const at = Date.now();
      for (const p of body.personalizations ?? []) {
        const notificationId = p.custom_args?.notification_id;
        if (!notificationId) continue;
        const list = receipts.get(notificationId) ?? [];
        list.push({ notificationId, sender, at, messageId });
        receipts.set(notificationId, list);
      }
      response.writeHead(202, { 'x-message-id': messageId }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    receipts,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
