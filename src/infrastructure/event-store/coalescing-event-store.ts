import { MicroBatcher, settle, type Settled } from '../batching/micro-batcher.js';
import type { AppendResult, EventStore, StreamAppend } from './event-store.js';

/**
 * The store with the whole-stream reads and the appends of concurrent callers gathered into one round trip each: the
 * worker handling dozens of notifications at once loads them with one readStreams and records their results with one
 * appendMany, instead of one query per notification.
 *
 * Each caller still gets its own answer: an appendMany that fails (one append's expected revision was stale, say)
 * writes nothing on PostgreSQL, and its appends are then made one by one so that only the failing one throws.
 * KurrentDB's appendMany is not atomic; the appends it wrote before the failure are repeats the second time, which
 * the store answers with their original results.
 */
export function withCoalescedAccess(store: EventStore, options: { maxBatch?: number } = {}): EventStore {
  const maxBatch = options.maxBatch ?? 200;
  const reads = new MicroBatcher<string, Awaited<ReturnType<EventStore['readStream']>>>(async (streamIds) => {
    const streams = await store.readStreams(streamIds);
    return streamIds.map((id) => ({ ok: true, value: streams.get(id) ?? [] }));
  }, maxBatch);
  const appends = new MicroBatcher<StreamAppend, AppendResult>(async (batch): Promise<Settled<AppendResult>[]> => {
    if (batch.length === 1) return [await settle(() => store.append(batch[0]!.streamId, batch[0]!.events, batch[0]!))];
    try {
      return (await store.appendMany(batch)).map((value) => ({ ok: true, value }));
    } catch {
      return Promise.all(batch.map((a) => settle(() => store.append(a.streamId, a.events, { expectedRevision: a.expectedRevision }))));
    }
  }, maxBatch);

  return {
    append: (streamId, events, { expectedRevision }) => appends.call({ streamId, events, expectedRevision }),
    appendMany: (batch) => store.appendMany(batch),
    // Partial reads (from a revision, a few events) are rare: they go straight through.
    readStream: (streamId, readOptions) =>
      readOptions?.fromRevision === undefined && readOptions?.maxCount === undefined ? reads.call(streamId) : store.readStream(streamId, readOptions),
    readStreams: (streamIds) => store.readStreams(streamIds),
    readAll: (readOptions) => store.readAll(readOptions),
    subscribe: (subscribeOptions) => store.subscribe(subscribeOptions),
    headPosition: () => store.headPosition(),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
