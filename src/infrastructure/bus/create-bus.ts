import type { Env } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { createInProcessBus } from './in-process-bus.js';
import { createJetStreamBus } from './jetstream-bus.js';
import type { MessageBus } from './message-bus.js';

export type BusKind = 'nats-jetstream' | 'in-process';
export type NamedBus = MessageBus & { readonly kind: BusKind };

/** NATS JetStream when NATS_URL is set; otherwise the in-process bus (one process, nothing to install). */
export async function createMessageBus(env: Pick<Env, 'NATS_URL'> & Partial<Pick<Env, 'COMM_NATS_STREAM' | 'COMM_NATS_SUBJECT_PREFIX'>>, logger: Logger): Promise<NamedBus> {
  if (env.NATS_URL) {
    const bus = await createJetStreamBus({
      servers: env.NATS_URL.split(','),
      streamName: env.COMM_NATS_STREAM,
      subjectPrefix: env.COMM_NATS_SUBJECT_PREFIX,
      onError: (err, context) => logger.error({ err, context }, 'message bus error'),
    });
    logger.info({ servers: env.NATS_URL.split(',').map(redactUrl) }, 'message bus: NATS JetStream');
    return Object.assign(bus, { kind: 'nats-jetstream' as const });
  }
  logger.info('message bus: in-process (set NATS_URL for NATS JetStream)');
  return Object.assign(createInProcessBus({ onError: (err, context) => logger.error({ err, context }, 'message bus error') }), { kind: 'in-process' as const });
}

/** Credentials in a NATS URL (nats://user:pass@host) never reach a log. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[redacted]@');
}
