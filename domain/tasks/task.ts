import type { Decider, DomainEvent } from '../shared/decider.js';
import { DomainError } from '../shared/errors.js';

// Every write is a task (ZStack's API job): its stream `task-<id>` records what was asked,
// by whom, and how it ended. The audit log and `GET /v1/tasks/<id>` are built from it.

export interface TaskError {
  code: string;
  message: string;
  /** The kind of failure (DomainError's), so that a repeat can be answered as the first was. */
  kind?: string;
  details?: Record<string, unknown>;
}

export type TaskEvent =
  | DomainEvent<'TaskStarted', {
      taskId: string;
      action: string;
      resourceType: string;
      resourceIds: string[];
      /** The command as asked, secrets already redacted. */
      request: unknown;
      startedAt: number;
      /** Hash of action and redacted request: tells a repeated Idempotency-Key from a reused one. */
      requestHash?: string;
    }>
  | DomainEvent<'TaskSucceeded', { taskId: string; result: unknown; resourceIds: string[]; finishedAt: number }>
  | DomainEvent<'TaskFailed', { taskId: string; error: TaskError; finishedAt: number }>;

export type TaskCommand =
  | { type: 'StartTask'; taskId: string; action: string; resourceType: string; resourceIds: string[]; request: unknown; now: number }
  | { type: 'SucceedTask'; result: unknown; resourceIds?: string[]; now: number }
  | { type: 'FailTask'; error: TaskError; now: number };

export type TaskState =
  | { state: 'none' }
  | {
      state: 'running' | 'succeeded' | 'failed';
      taskId: string;
      action: string;
      resourceType: string;
      resourceIds: string[];
      startedAt: number;
      finishedAt?: number;
      result?: unknown;
      error?: TaskError;
    };

export const taskDecider: Decider<TaskCommand, TaskState, TaskEvent> = {
  initialState: { state: 'none' },

  decide(command, state) {
    switch (command.type) {
      case 'StartTask':
        if (state.state !== 'none') throw new DomainError('TASK_EXISTS', `task ${command.taskId} already exists`);
        return [{
          type: 'TaskStarted',
          data: {
            taskId: command.taskId,
            action: command.action,
            resourceType: command.resourceType,
            resourceIds: command.resourceIds,
            request: command.request,
            startedAt: command.now,
          },
        }];
      case 'SucceedTask':
      case 'FailTask': {
        if (state.state === 'none') throw new DomainError('TASK_NOT_FOUND', 'task not found', 'not_found');
        // A task ends once; a late or repeated outcome changes nothing (results are idempotent).
        if (state.state !== 'running') return [];
        return command.type === 'SucceedTask'
          ? [{ type: 'TaskSucceeded', data: { taskId: state.taskId, result: command.result, resourceIds: command.resourceIds ?? state.resourceIds, finishedAt: command.now } }]
          : [{ type: 'TaskFailed', data: { taskId: state.taskId, error: command.error, finishedAt: command.now } }];
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'TaskStarted':
        return {
          state: 'running',
          taskId: event.data.taskId,
          action: event.data.action,
          resourceType: event.data.resourceType,
          resourceIds: event.data.resourceIds,
          startedAt: event.data.startedAt,
        };
      case 'TaskSucceeded':
        if (state.state === 'none') return state;
        return { ...state, state: 'succeeded', result: event.data.result, resourceIds: event.data.resourceIds, finishedAt: event.data.finishedAt };
      case 'TaskFailed':
        if (state.state === 'none') return state;
        return { ...state, state: 'failed', error: event.data.error, finishedAt: event.data.finishedAt };
    }
  },
};

export const taskStream = (taskId: string) => `task-${taskId}`;
