import type { RecordedEvent } from '../../adapters/eventstore/port.js';
import type { WriteBatch } from '../../adapters/readstore/port.js';
import type { TaskEvent } from '../../domain/tasks/task.js';
import { isoTime, type Projection } from '../shared/projection.js';

// The task list (`GET /v1/tasks`): what ran, who ran it, how it ended. A single task's
// result is read from its stream, which is always current.

export const tasksCollection = 'tasks';

export const taskListFields = {
  id: 'string',
  action: 'string',
  state: 'string',
  resourceType: 'string',
  resourceIds: 'string',
  'operator.id': 'string',
  'operator.name': 'string',
  startedAt: 'time',
  finishedAt: 'time',
  'error.code': 'string',
} as const;

export const tasksProjection: Projection = {
  name: 'tasks',
  version: 1,
  collections: [tasksCollection],
  indexes: [
    { collection: tasksCollection, fields: [['startedAt', -1]] },
    { collection: tasksCollection, fields: [['state', 1], ['startedAt', -1]] },
    { collection: tasksCollection, fields: [['operator.id', 1], ['startedAt', -1]] },
  ],
  handles: ['TaskStarted', 'TaskSucceeded', 'TaskFailed'],

  apply(recorded: RecordedEvent, batch: WriteBatch) {
    const event = recorded as unknown as TaskEvent & RecordedEvent;
    switch (event.type) {
      case 'TaskStarted':
        batch.upsert(tasksCollection, {
          id: event.data.taskId,
          action: event.data.action,
          state: 'running',
          resourceType: event.data.resourceType,
          resourceIds: event.data.resourceIds,
          operator: event.metadata.actor ?? { kind: 'system', id: 'system', name: 'system' },
          startedAt: isoTime(event.data.startedAt),
          finishedAt: null,
        });
        return;
      case 'TaskSucceeded':
        batch.patch(tasksCollection, event.data.taskId, {
          state: 'succeeded',
          resourceIds: event.data.resourceIds,
          finishedAt: isoTime(event.data.finishedAt),
        });
        return;
      case 'TaskFailed':
        batch.patch(tasksCollection, event.data.taskId, {
          state: 'failed',
          error: { code: event.data.error.code, message: event.data.error.message },
          finishedAt: isoTime(event.data.finishedAt),
        });
        return;
    }
  },
};
