import { auditLogProjection } from './audit/audit-log.js';
import type { Projection } from './shared/projection.js';
import { tasksProjection } from './tasks/tasks.js';

/** Every read model Stratus maintains. */
export const allProjections: readonly Projection[] = [auditLogProjection, tasksProjection];
