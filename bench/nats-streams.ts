import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

export interface RunStreams {
  /** The service's environment for them (stream names and subject prefixes). */
  env: Record<'COMM_NATS_STREAM' | 'COMM_NATS_SUBJECT_PREFIX' | 'COMM_EVENTS_STREAM' | 'COMM_EVENTS_SUBJECT_PREFIX' | 'COMM_CRM_STREAM' | 'COMM_CRM_SUBJECT_PREFIX' | 'COMM_CENTRAL_STREAM' | 'COMM_CENTRAL_SUBJECT_PREFIX', string>;
  /** Deletes them (the run is over); a missing stream is fine. */
  delete(natsUrl: string): Promise<void>;
}

/**
 * NATS streams of one bench run: the server is shared, another run's workers must not take this run's jobs, and the
 * integration-event, CRM and central streams keep whatever is published on them (limits retention, a year): left in
 * place, every run would add its hundreds of thousands of events to the default streams of this machine's server.
 */
export function runStreams(part: string): RunStreams {
  const run = `${part}_${randomBytes(4).toString('hex')}`;
  const upper = run.toUpperCase();
  const env = {
    COMM_NATS_STREAM: `BENCH_${upper}_JOBS`,
    COMM_NATS_SUBJECT_PREFIX: `bench.${run}.jobs`,
    COMM_EVENTS_STREAM: `BENCH_${upper}_EVENTS`,
    COMM_EVENTS_SUBJECT_PREFIX: `bench.${run}.events`,
    COMM_CRM_STREAM: `BENCH_${upper}_CRM`,
    COMM_CRM_SUBJECT_PREFIX: `bench.${run}.crm`,
    COMM_CENTRAL_STREAM: `BENCH_${upper}_CENTRAL`,
    COMM_CENTRAL_SUBJECT_PREFIX: `bench.${run}.central`,
  };
  const names = [env.COMM_NATS_STREAM, env.COMM_EVENTS_STREAM, env.COMM_CRM_STREAM, env.COMM_CENTRAL_STREAM];
  return {
    env,
    async delete(natsUrl) {
      const nc = await connect({ servers: natsUrl.split(','), name: 'comm-bench-cleanup' });
      try {
        const jsm = await jetstreamManager(nc);
        for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
      } finally {
        await nc.close();
      }
    },
  };
}
