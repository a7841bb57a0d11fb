import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/infrastructure/config/env.js';
import { createSmtpProvider, type SmtpConfig } from '../../../../src/platforms/notifications/email/smtp.js';
import { ProviderError, type OutgoingMessage } from '../../../../src/platforms/notifications/provider.js';

/**
 * SMTP connector against real local SMTP servers (smtp-server): the restaurant's mail server accepting, refusing a
 * mailbox (550), deferring one (451), and refusing bad credentials; plus a server that never greets and a closed port.
 */

const USERNAME = 'moulin';
const PASSWORD = 'Tr3s-s3cret-never-logged';

interface Received {
  envelope: { from: string; to: string[] };
  user: string | undefined;
  raw: string;
}

interface LocalSmtp {
  port: number;
  received: Received[];
  stop(): Promise<void>;
}

async function startSmtp(options: Partial<SMTPServerOptions> = {}): Promise<LocalSmtp> {
  const received: Received[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: false,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === USERNAME && auth.password === PASSWORD) return callback(null, { user: USERNAME });
      if (auth.username === 'indisponible') {
        return callback(Object.assign(new Error('4.7.0 Temporary authentication failure'), { responseCode: 454 }));
      }
      return callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      const local = address.address.split('@')[0];
      if (local === 'inconnu') return callback(Object.assign(new Error('5.1.1 Mailbox unavailable'), { responseCode: 550 }));
      if (local === 'plein') return callback(Object.assign(new Error('4.2.2 Mailbox full, try again later'), { responseCode: 451 }));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          user: typeof session.user === 'string' ? session.user : undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// --- A small MIME reader: enough for nodemailer's output (headers, multipart, quoted-printable/base64, RFC 2047). ---

interface MimePart {
  headers: Map<string, string>;
  body: string;
  parts: MimePart[];
}

function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=\s*(?==\?)|=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (...m: string[]) => {
    const encoding = (m[2] || m[5] || '').toUpperCase();
    const text = m[3] ?? m[6] ?? '';
    if (encoding === 'B') return Buffer.from(text, 'base64').toString('utf8');
    return decodeQp(text.replace(/_/g, ' '));
  });
}

function decodeQp(text: string): string {
  const softBreaksRemoved = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < softBreaksRemoved.length; i++) {
    const c = softBreaksRemoved[i] as string;
    if (c === '=' && /^[0-9A-F]{2}$/i.test(softBreaksRemoved.slice(i + 1, i + 3))) {
      bytes.push(parseInt(softBreaksRemoved.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function parseMime(raw: string): MimePart {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const rawBody = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.startsWith('multipart/') && boundary) {
    const parts = rawBody
      .split(`--${boundary}`)
      .slice(1)
      .filter((p) => !p.startsWith('--'))
      .map((p) => parseMime(p.replace(/^\r\n/, '').replace(/\r\n$/, '')));
    return { headers, body: '', parts };
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const body =
    encoding === 'quoted-printable' ? decodeQp(rawBody) : encoding === 'base64' ? Buffer.from(rawBody.replace(/\s+/g, ''), 'base64').toString('utf8') : rawBody;
  return { headers, body: body.replace(/\r\n$/, ''), parts: [] };
}

function leaves(part: MimePart): MimePart[] {
  return part.parts.length === 0 ? [part] : part.parts.flatMap(leaves);
}

// ---

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    notificationId: 'ntf_01HZXSMTP',
    channel: 'email',
    recipient: 'lea.bernard@example.fr',
    email: {
      subject: 'Fête des vendanges : réservez votre table',
      text: 'Bonjour Léa,\nle Vieux Moulin fête les vendanges le 27 septembre.',
      html: '<p>Bonjour Léa,<br>le Vieux Moulin fête les <em>vendanges</em> le 27 septembre.</p>',
      headers: {
        'List-Unsubscribe': '<https://levieuxmoulin.fr/u/tok_lea>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    },
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  for (const secret of [PASSWORD, Buffer.from(PASSWORD).toString('base64'), Buffer.from(`\0${USERNAME}\0${PASSWORD}`).toString('base64')]) {
    expect(providerError.message).not.toContain(secret);
    expect(JSON.stringify(providerError.details)).not.toContain(secret);
  }
  return providerError;
}

describe('SMTP provider against a local SMTP server', () => {
  let smtp: LocalSmtp;
  const providers: { close(): void }[] = [];
  const provider = (overrides: Partial<SmtpConfig> = {}, timeoutMs = 5_000) => {
    const p = createSmtpProvider(
      {
        provider: 'smtp',
        host: '127.0.0.1',
        port: smtp.port,
        secure: false,
        username: USERNAME,
        password: PASSWORD,
        from_email: 'restaurant@levieuxmoulin.fr',
        from_name: 'Le Vieux Moulin',
        ...overrides,
      },
      { timeoutMs },
    );
    providers.push(p);
    return p;
  };

  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => {
    for (const p of providers) p.close();
    await smtp?.stop();
  });
  beforeEach(() => {
    smtp.received.length = 0;
  });

  it('delivers recipient, subject, both parts, List-Unsubscribe and our notification id; returns the Message-ID', async () => {
    const result = await provider().send(message());

    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0] as Received;
    expect(mail.user).toBe(USERNAME);
    expect(mail.envelope).toEqual({ from: 'restaurant@levieuxmoulin.fr', to: ['lea.bernard@example.fr'] });

    const parsed = parseMime(mail.raw);
    expect(parsed.headers.get('subject')).toBe('Fête des vendanges : réservez votre table');
    expect(parsed.headers.get('from')).toBe('Le Vieux Moulin <restaurant@levieuxmoulin.fr>');
    expect(parsed.headers.get('to')).toBe('lea.bernard@example.fr');
    expect(parsed.headers.get('list-unsubscribe')).toBe('<https://levieuxmoulin.fr/u/tok_lea>');
    expect(parsed.headers.get('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(parsed.headers.get('x-notification-id')).toBe('ntf_01HZXSMTP');
    expect(parsed.headers.get('content-type')).toMatch(/^multipart\/alternative/);

    const parts = leaves(parsed);
    const text = parts.find((p) => p.headers.get('content-type')?.startsWith('text/plain'));
    const html = parts.find((p) => p.headers.get('content-type')?.startsWith('text/html'));
    expect(text?.body.replace(/\r\n/g, '\n')).toBe('Bonjour Léa,\nle Vieux Moulin fête les vendanges le 27 septembre.');
    expect(html?.body).toBe('<p>Bonjour Léa,<br>le Vieux Moulin fête les <em>vendanges</em> le 27 septembre.</p>');
    expect(parts.indexOf(text as MimePart)).toBeLessThan(parts.indexOf(html as MimePart));

    expect(result.provider).toBe('smtp');
    expect(result.providerMessageId).toMatch(/^<.+@.+>$/);
    expect(parsed.headers.get('message-id')).toBe(result.providerMessageId);
  });

  it('a mailbox the server refuses (550) → permanent', async () => {
    const error = await failure(provider().send(message({ recipient: 'inconnu@levieuxmoulin.fr' })));
    expect(error.errorClass).toBe('permanent');
    expect(error.details.status).toBe(550);
    expect(error.message).toBe('SMTP server refused during RCPT: 550 5.1.1 Mailbox unavailable');
    expect(error.retryable).toBe(false);
    expect(smtp.received).toHaveLength(0);
  });

  it('a mailbox the server defers (451) → transient', async () => {
    const error = await failure(provider().send(message({ recipient: 'plein@levieuxmoulin.fr' })));
    expect(error.errorClass).toBe('transient');
    expect(error.details.status).toBe(451);
    expect(error.retryable).toBe(true);
  });

  it('wrong credentials (535) → auth, without the password in the error', async () => {
    const error = await failure(provider({ password: 'mauvais-mot-de-passe' }).send(message()));
    expect(error.errorClass).toBe('auth');
    expect(error.details).toMatchObject({ status: 535, providerCode: 'EAUTH' });
    expect(error.message).not.toContain('mauvais-mot-de-passe');
    expect(smtp.received).toHaveLength(0);
  });

  it('a temporary authentication failure (454) → transient, not auth', async () => {
    const error = await failure(provider({ username: 'indisponible' }).send(message()));
    expect(error.errorClass).toBe('transient');
    expect(error.details.status).toBe(454);
  });

  it('no credentials for a server that requires them (530) → auth', async () => {
    const error = await failure(provider({ username: undefined, password: undefined }).send(message()));
    expect(error.errorClass).toBe('auth');
    expect(error.details.status).toBe(530);
  });

  it('check() verifies the connection and the login', async () => {
    await expect(provider().check?.()).resolves.toBeUndefined();
    const error = await failure(provider({ password: 'mauvais' }).check?.() ?? Promise.resolve());
    expect(error.errorClass).toBe('auth');
  });

  it('a closed port → transient', async () => {
    const closed = await startSmtp();
    const port = closed.port;
    await closed.stop();
    const error = await failure(provider({ port }).send(message()));
    expect(error.errorClass).toBe('transient');
    expect(error.details.providerCode).toBe('ESOCKET');
  });

  it('a server that accepts the connection but never greets → transient after the timeout', async () => {
    const silent: TcpServer = createTcpServer(() => {
      /* never say 220 */
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const started = Date.now();
      const error = await failure(provider({ port: (silent.address() as AddressInfo).port }, 300).send(message()));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(error.errorClass).toBe('transient');
      expect(error.details.providerCode).toBe('ETIMEDOUT');
    } finally {
      await new Promise<void>((resolve) => {
        silent.close(() => resolve());
        (silent as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    }
  });

  it('refuses an incomplete configuration', () => {
    expect(() => createSmtpProvider({ host: '', port: 25, from_email: 'restaurant@levieuxmoulin.fr' })).toThrow(ConfigError);
    expect(() => createSmtpProvider({ host: 'mail.levieuxmoulin.fr', port: 587, username: 'moulin', from_email: 'restaurant@levieuxmoulin.fr' })).toThrow(/password/);
  });
});

describe('SMTP provider against a server without authentication', () => {
  let smtp: LocalSmtp;
  beforeAll(async () => {
    smtp = await startSmtp({ authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'] });
  });
  afterAll(async () => {
    await smtp?.stop();
  });

  it('sends without credentials when none are configured', async () => {
    const provider = createSmtpProvider({ host: '127.0.0.1', port: smtp.port, from_email: 'restaurant@levieuxmoulin.fr' });
    const result = await provider.send(message({ notificationId: 'ntf_noauth' }));
    provider.close();
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]?.user).toBeUndefined();
    const parsed = parseMime(smtp.received[0]?.raw ?? '');
    expect(parsed.headers.get('from')).toBe('restaurant@levieuxmoulin.fr');
    expect(parsed.headers.get('x-notification-id')).toBe('ntf_noauth');
    expect(parsed.headers.get('message-id')).toBe(result.providerMessageId);
  });
});
