import nodemailer from 'nodemailer';
import type { NodemailerError } from 'nodemailer';
import { z } from 'zod';
import { ConfigError } from '../../../infrastructure/config/env.js';
import { ProviderError, type NotificationProvider, type OutgoingMessage, type ProviderErrorClass, type SendResult } from '../provider.js';
import { emailContent, parseEntry, secret, timeoutOf, type EmailProviderOptions } from './common.js';

/**
 * The restaurant's own mail server, through nodemailer's SMTP transport.
 * SMTP has no custom arguments: our notification id travels in an X-Notification-Id header, which bounces
 * (DSNs quote the original headers) and the server's logs carry. providerMessageId is the Message-ID nodemailer
 * generated and the server accepted.
 */

const smtpEntrySchema = z.looseObject({
  provider: z.literal('smtp').optional(),
  host: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65_535),
  /** true: TLS from the first byte (port 465); false/absent: plain, upgraded with STARTTLS when offered. */
  secure: z.boolean().optional(),
  username: z.string().min(1).optional(),
  password: secret.optional(),
  from_email: z.email(),
  from_name: z.string().optional(),
});

/** The notifications.json entry (spec format); unknown keys are ignored. */
export interface SmtpConfig {
  provider?: 'smtp';
  host: string;
  port: number;
  secure?: boolean;
  username?: string;
  password?: string;
  from_email: string;
  from_name?: string;
}

export interface SmtpProvider extends NotificationProvider {
  readonly name: 'smtp';
  readonly channel: 'email';
  /** Closes the transport's connections. */
  close(): void;
}

/** The header that carries our notification id. */
export const NOTIFICATION_ID_HEADER = 'X-Notification-Id';

export function createSmtpProvider(config: SmtpConfig, options: EmailProviderOptions = {}): SmtpProvider {
  const entry = parseEntry('SMTP', smtpEntrySchema, config);
  const timeoutMs = timeoutOf(options);
  if (entry.username && entry.password === undefined) {
    throw new ConfigError('Invalid SMTP e-mail configuration: a username needs a password');
  }
  const transporter = nodemailer.createTransport({
    host: entry.host,
    port: entry.port,
    secure: entry.secure ?? false,
    ...(entry.username ? { auth: { user: entry.username, pass: entry.password as string } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    logger: false,
    debug: false,
  });
  const from = entry.from_name ? { name: entry.from_name, address: entry.from_email } : entry.from_email;

  return {
    name: 'smtp',
    channel: 'email',

    async send(message: OutgoingMessage): Promise<SendResult> {
      const content = emailContent('smtp', message);
      try {
        const info = await transporter.sendMail({
          from,
          to: content.to,
          subject: content.subject,
          ...(content.text ? { text: content.text } : {}),
          ...(content.html ? { html: content.html } : {}),
          headers: { ...content.headers, [NOTIFICATION_ID_HEADER]: message.notificationId },
        });
        return { provider: 'smtp', providerMessageId: info.messageId };
      } catch (error) {
        throw smtpError(error);
      }
    },

    async check(): Promise<void> {
      try {
        await transporter.verify();
      } catch (error) {
        throw smtpError(error);
      }
    },

    close(): void {
      transporter.close();
    },
  };
}

const authCodes = new Set([530, 534, 535, 538]);
const connectionCodes = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH']);

/**
 * nodemailer's error → ProviderError: a refused login (EAUTH, 530/534/535/538) or missing credentials (ENOAUTH) →
 * auth; a 4yz reply (454 during AUTH included, and 503, a session-state reply) → transient; any other 5yz (550 mailbox unavailable, 552, 554...)
 * → permanent; no reply at all (connection refused, timeout, TLS failure) → transient. The message quotes the
 * server's reply, never the credentials.
 */
export function smtpError(error: unknown): ProviderError {
  const e = (error ?? {}) as NodemailerError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const reply = typeof e.response === 'string' ? e.response.trim() : undefined;
  const details = {
    ...(responseCode !== undefined ? { status: responseCode } : {}),
    ...(code ? { providerCode: code } : {}),
  };
  let errorClass: ProviderErrorClass;
  // A 4yz during AUTH (454 temporary authentication failure) is the server's trouble, not refused credentials.
  const temporary = responseCode !== undefined && responseCode >= 400 && responseCode < 500;
  if (!temporary && (code === 'EAUTH' || code === 'ENOAUTH' || (responseCode !== undefined && authCodes.has(responseCode)))) errorClass = 'auth';
  else if (responseCode !== undefined && responseCode >= 500 && responseCode < 600 && responseCode !== 503) errorClass = 'permanent';
  else if (responseCode !== undefined) errorClass = 'transient';
  else if (code && connectionCodes.has(code)) errorClass = 'transient';
  else if (code === 'EENVELOPE' || code === 'EMESSAGE') errorClass = 'permanent';
  else errorClass = 'transient';

  // Only the verb of the command: never its arguments (AUTH PLAIN would carry the credentials).
  const during = typeof e.command === 'string' && e.command ? ` during ${e.command.split(' ')[0]}` : '';
  const cause = [code, typeof e.originalCode === 'string' ? e.originalCode : undefined].filter(Boolean).join('/') || 'unknown error';
  let text: string;
  if (reply) text = `SMTP server refused${during}: ${reply}`;
  else if (code === 'ENOAUTH') text = 'SMTP server wants credentials and none are configured';
  else if (code === 'ETIMEDOUT') text = `SMTP server did not answer in time (${e.timeoutType ?? cause})`;
  else text = `SMTP exchange failed${during} (${cause})`;
  return new ProviderError('smtp', errorClass, text, details);
}
