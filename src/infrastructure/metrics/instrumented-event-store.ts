import { WrongExpectedRevisionError, type AppendOptions, type EventData, type EventStore, type StreamAppend } from '../event-store/event-store.js';
import type { Metrics } from './metrics.js';

/** The store, with every append counted and timed; everything else passes straight through. */
export function withAppendMetrics(store: EventStore, metrics: Metrics): EventStore {
  return {
    async append(streamId: string, events: EventData[], options: AppendOptions) {
      const stopTimer = metrics.appendDuration.startTimer();
      try {
        const result = await store.append(streamId, events, options);
        metrics.appends.inc({ outcome: 'ok' });
        metrics.appendedEvents.inc(events.length);
        return result;
      } catch (error) {
        metrics.appends.inc({ outcome: error instanceof WrongExpectedRevisionError ? 'conflict' : 'error' });
        throw error;
      } finally {
        stopTimer();
      }
    },
    async appendMany(appends: StreamAppend[]) {
      const stopTimer = metrics.appendDuration.startTimer();
      try {
        const results = await store.appendMany(appends);
        metrics.appends.inc({ outcome: 'ok' }, appends.length);
        metrics.appendedEvents.inc(appends.reduce((sum, a) => sum + a.events.length, 0));
        return results;
      } catch (error) {
        metrics.appends.inc({ outcome: error instanceof WrongExpectedRevisionError ? 'conflict' : 'error' });
        throw error;
      } finally {
        stopTimer();
      }
    },
    readStream: (streamId, options) => store.readStream(streamId, options),
    readStreams: (streamIds) => store.readStreams(streamIds),
    readAll: (options) => store.readAll(options),
    subscribe: (options) => store.subscribe(options),
    headPosition: () => store.headPosition(),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
