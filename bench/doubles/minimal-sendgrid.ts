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
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { personalizations?: { custom_args?: { notification_id?: string } }[] };
        for (const p of body.personalizations ?? []) {
          const id = p.custom_args?.notification_id;
          if (id && !received.has(id)) received.set(id, at);
        }
      } catch {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"message":"bad json"}]}');
        return;
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
