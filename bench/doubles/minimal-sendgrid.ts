import { createServer, type Server } from 'node:http';

/**
 * The smallest SendGrid /v3/mail/send that the connector accepts: 202 and an X-Message-Id (and GET /v3/scopes, its
 * health check). It records when each
 * notification reached it (custom_args.notification_id), for the request-to-provider latency.
 */
export interface MinimalSendGrid {
  url: string;
  received: Map<string, number>;
  stop(): Promise<void>;
}

const notificationIdPattern = /"custom_args":\{"notification_id":"([0-9a-f-]{36})"/g;

export async function startMinimalSendGrid(): Promise<MinimalSendGrid> {
  const received = new Map<string, number>();
  let counter = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = Date.now();
      if (request.method === 'GET' && request.url === '/v3/scopes') {
        // The connector's health check: the key may send mail.
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"scopes":["mail.send"]}');
        return;
      }
      // The ids are all it needs: found in the text, not by parsing every message's content (this process shares the
      // machine's CPUs with the service it measures).
      const body = Buffer.concat(chunks).toString('latin1');
      if (!body.startsWith('{') || !body.endsWith('}')) {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"message":"bad json"}]}');
        return;
      }
      for (const match of body.matchAll(notificationIdPattern)) {
        const id = match[1]!;
        if (!received.has(id)) received.set(id, at);
      }
      response.writeHead(202, { 'x-message-id': `bench${++counter}` }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
