import type { NamedBus } from '../../infrastructure/bus/create-bus.js';
import { createInProcessBus } from '../../infrastructure/bus/in-process-bus.js';
import { createJetStreamBus } from '../../infrastructure/bus/jetstream-bus.js';
import type { Env } from '../../infrastructure/config/env.js';
import type { Logger } from '../../infrastructure/logging/logger.js';

/**
 * Where the central server's events are read from: with NATS, its JetStream stream (COMM_CENTRAL_STREAM, subjects
 * `<COMM_CENTRAL_SUBJECT_PREFIX>.>`). The central server owns that stream; when it does not exist yet (development,
 * tests) it is created with limits retention, as the central server would, so that every module reading it keeps its
 * own place. Without NATS, an in-process bus that nothing outside can publish to (tests publish to it).
 */
export async function openCentralBus(
  env: Pick<Env, 'NATS_URL' | 'COMM_CENTRAL_STREAM' | 'COMM_CENTRAL_SUBJECT_PREFIX'>,
  logger: Logger,
): Promise<NamedBus> {
  const onError = (err: unknown, context: string) => logger.error({ err, context }, 'central server event consumer error');
  if (env.NATS_URL) {
    const bus = await createJetStreamBus({
      servers: env.NATS_URL.split(','),
      streamName: env.COMM_CENTRAL_STREAM,
      subjectPrefix: env.COMM_CENTRAL_SUBJECT_PREFIX,
      retention: 'limits',
      name: 'comm-central-consumer',
      onError,
    });
    logger.info({ stream: env.COMM_CENTRAL_STREAM, subjects: `${env.COMM_CENTRAL_SUBJECT_PREFIX}.>` }, 'central server events: consumed from NATS JetStream');
    return Object.assign(bus, { kind: 'nats-jetstream' as const });
  }
  logger.info('central server events: none consumed (they come through NATS: set NATS_URL)');
  return Object.assign(createInProcessBus({ subjectPrefix: env.COMM_CENTRAL_SUBJECT_PREFIX, onError }), { kind: 'in-process' as const });
}
