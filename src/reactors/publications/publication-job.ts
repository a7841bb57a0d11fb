import type { Platform } from '../../domain/publication-events.js';
import type { MessageBus } from '../../infrastructure/bus/message-bus.js';

/** A unit of publishing work: publish (or finish an interrupted attempt on) one platform of one publication. */
export interface PublicationJob {
  publication_id: string;
  platform: Platform;
  /** due: the platform's time has come; recover: an attempt started long ago and never reported. */
  reason: 'due' | 'recover';
}

export function publicationJobSubject(bus: Pick<MessageBus, 'subjectPrefix'>, platform: Platform): string {
  return `${bus.subjectPrefix}.publish.${platform}`;
}
