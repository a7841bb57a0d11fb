import type { NotificationEvent } from '../../domain/notification.js';
import type { MessageBus } from '../../infrastructure/bus/message-bus.js';
import type { RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { ReactorDefinition } from '../reactor.js';

export interface NotificationJob {
  notification_id: string;
}

export function notificationJobSubject(bus: Pick<MessageBus, 'subjectPrefix'>, channel: string): string {
  return `${bus.subjectPrefix}.notify.${channel}`;
}

/**
 * NotificationRequested → a job on the channel's subject. The job's msgId is the event id, so a batch handled again
 * after a crash is dropped by the bus's de-duplication instead of sending twice.
 */
export function notificationDispatch(bus: MessageBus): ReactorDefinition {
  return {
    name: 'notification-dispatch',
    filter: { categories: ['notification'], eventTypes: ['NotificationRequested'] },
    async handle(event: RecordedEvent) {
      const data = (event as unknown as Extract<NotificationEvent, { type: 'NotificationRequested' }>).data;
      const job: NotificationJob = { notification_id: data.notification_id };
      await bus.publish(notificationJobSubject(bus, data.channel), job, {
        msgId: event.id,
        headers: { 'correlation-id': String(event.metadata.correlation_id ?? '') },
      });
    },
  };
}
