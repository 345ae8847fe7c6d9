import { describe, it } from 'vitest';
import { taskDecider, type TaskEvent } from '../../../domain/tasks/task.js';
import { scenario } from '../../support/given-when-then.js';

const started: TaskEvent = {
  type: 'TaskStarted',
  data: { taskId: 't1', action: 'UpdateSetting', resourceType: 'setting', resourceIds: ['session.timeout'], request: { value: 60 }, startedAt: 1000 },
};
const task = scenario(taskDecider);

describe('task decider', () => {
  it('starts a task once', () => {
    task.given().when({ type: 'StartTask', taskId: 't1', action: 'UpdateSetting', resourceType: 'setting', resourceIds: ['session.timeout'], request: { value: 60 }, now: 1000 })
      .then([started]);
    task.given(started).when({ type: 'StartTask', taskId: 't1', action: 'X', resourceType: 'x', resourceIds: [], request: {}, now: 1 })
      .thenFails('TASK_EXISTS');
  });

  it('records success with the result and the resources it touched', () => {
    task.given(started).when({ type: 'SucceedTask', result: { value: 60 }, now: 2000 })
      .then([{ type: 'TaskSucceeded', data: { taskId: 't1', result: { value: 60 }, resourceIds: ['session.timeout'], finishedAt: 2000 } }]);
  });

  it('records failure with its error code', () => {
    task.given(started).when({ type: 'FailTask', error: { code: 'NOPE', message: 'no' }, now: 2000 })
      .then([{ type: 'TaskFailed', data: { taskId: 't1', error: { code: 'NOPE', message: 'no' }, finishedAt: 2000 } }]);
  });

  it('ignores a second outcome: a task ends once', () => {
    const failed: TaskEvent = { type: 'TaskFailed', data: { taskId: 't1', error: { code: 'NOPE', message: 'no' }, finishedAt: 2000 } };
    task.given(started, failed).when({ type: 'SucceedTask', result: {}, now: 3000 }).then([]);
  });

  it('refuses an outcome for a task that never started', () => {
    task.given().when({ type: 'SucceedTask', result: {}, now: 3000 }).thenFails('TASK_NOT_FOUND');
  });
});
