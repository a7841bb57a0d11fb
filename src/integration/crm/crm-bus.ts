import type { NamedBus } from '../../infrastructure/bus/create-bus.js';
import { createInProcessBus } from '../../infrastructure/bus/in-process-bus.js';
import { createJetStreamBus } from '../../infrastructure/bus/jetstream-bus.js';
import type { Env } from '../../infrastructure/config/env.js';
import type { Logger } from '../../infrastructure/logging/logger.js';

/**
 * Where the CRM's events are read from: with NATS, the CRM's JetStream stream (COMM_CRM_STREAM, subjects
 * `<COMM_CRM_SUBJECT_PREFIX>.>`). The CRM module owns that stream; when it does not exist yet (development, tests) it is
 * created with limits retention, as the CRM would, so that every module reading it keeps its own place. Without NATS,
 * an in-process bus that nothing outside can publish to (tests publish to it).
 */
export async function openCrmBus(
  env: Pick<Env, 'NATS_URL' | 'COMM_CRM_STREAM' | 'COMM_CRM_SUBJECT_PREFIX'>,
  logger: Logger,
): Promise<NamedBus> {
  const onError = (err: unknown, context: string) => logger.error({ err, context }, 'CRM event consumer error');
  if (env.NATS_URL) {
    const bus = await createJetStreamBus({
      servers: env.NATS_URL.split(','),
      streamName: env.COMM_CRM_STREAM,
      subjectPrefix: env.COMM_CRM_SUBJECT_PREFIX,
      retention: 'limits',
      name: 'comm-crm-consumer',
      onError,
    });
    logger.info({ stream: env.COMM_CRM_STREAM, subjects: `${env.COMM_CRM_SUBJECT_PREFIX}.>` }, 'CRM events: consumed from NATS JetStream');
    return Object.assign(bus, { kind: 'nats-jetstream' as const });
  }
  logger.info('CRM events: none consumed (they come through NATS: set NATS_URL)');
  return Object.assign(createInProcessBus({ subjectPrefix: env.COMM_CRM_SUBJECT_PREFIX, onError }), { kind: 'in-process' as const });
}
