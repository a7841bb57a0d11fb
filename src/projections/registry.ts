import { analyticsProjection } from './analytics/analytics-projection.js';
import { campaignsProjection } from './campaigns/campaigns-projection.js';
import { connectionsProjection } from './connections/connections-projection.js';
import { consentsProjection } from './consents/consents-projection.js';
import { experimentsProjection } from './campaigns/experiments-projection.js';
import { engagementProjection } from './engagement/engagement-projection.js';
import { notificationsProjection } from './notifications/notifications-projection.js';
import type { Projection } from './projection.js';
import { publicationScheduleProjection } from './publication-schedule/publication-schedule-projection.js';
import { publicationsProjection } from './publications/publications-projection.js';
import { templatesProjection } from './templates/templates-projection.js';

/** Every projection of the service, in the order their migrations run. */
export const projections: Projection[] = [campaignsProjection, notificationsProjection, templatesProjection, consentsProjection, publicationScheduleProjection, publicationsProjection, engagementProjection, analyticsProjection, connectionsProjection, experimentsProjection];
