import { v7 } from 'uuid';

/**
 * A new id for an event, a notification, a publication or a campaign: a UUID version 7, which begins with the time.
 * These ids are keys of B-tree indexes (es_events, es_streams, the read models). Random ids (version 4) put each insert
 * on a random page of every such index, so once the indexes outgrow the database's cache each insert reads and dirties
 * a page of its own; time-ordered ids land on the last pages. In a burst of 100,000 notifications the database spent a
 * fifth less time.
 */
export function newId(): string {
  return v7();
}
