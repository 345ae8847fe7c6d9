import type { Request, Response } from 'express';
import type { Doc, Filter } from '../../adapters/readstore/port.js';
import type { EventMetadata } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { TaskSpec, Tasks } from '../../commands/tasks/tasks.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import type { FieldTypes } from '../shared/query.js';
import { endpoint, requestContextOf, type Endpoint } from '../shared/endpoint.js';
import { sendList } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';
import { respondWithTask } from '../shared/task-response.js';
import { assertZoneReadable, bothScopes, zoneListScope } from '../shared/zone-scope.js';
import { assertInProject, assertReadableInProject, projectListScope, projectOrSharedListScope } from '../tenancy/scope.js';

// What the inventory endpoints (zones … L3 networks) have in common: a write is a task whose
// result is the resource id; lists and details come from a read model, with `?after=` for
// read-your-writes.

export interface ReadDeps {
  readStore: ReadStore;
  runner: ProjectionRunner;
}

const readYourWritesWaitMs = 5_000;

/** Runs a quick command as a task and answers with its result (201 for a creation). */
export async function runQuickTask(
  req: Request,
  res: Response,
  tasks: Tasks,
  spec: TaskSpec,
  work: (metadata: EventMetadata) => Promise<Record<string, unknown>>,
  successStatus: 200 | 201 = 200,
): Promise<void> {
  const started = await tasks.start(requestContextOf(req, res), spec, async ({ metadata }) => {
    // The position a command wrote is internal: the task's own position is what clients pass as ?after=.
    const { position: _position, ...result } = await work(metadata);
    const id = typeof result.id === 'string' ? result.id : undefined;
    return id ? { result, resourceIds: [...(spec.resourceIds ?? []), id].filter((value, index, all) => all.indexOf(value) === index) } : { result };
  });
  await respondWithTask(req, res, tasks, started, { successStatus });
}

/** Waits for `?after=<position>` before a detail is read. */
export async function awaitPosition(req: Request, runner: ProjectionRunner): Promise<void> {
  const after = req.query.after;
  if (after === undefined) return;
  if (typeof after !== 'string' || !/^\d+$/.test(after)) {
    throw new ProblemError(400, 'INVALID_QUERY', 'after must be an event position', [{ field: 'after', message: 'must be a non-negative integer' }]);
  }
  const reached = await runner.waitFor(Number(after), readYourWritesWaitMs);
  if (!reached) throw new ProblemError(503, 'READ_MODEL_BEHIND', `the read model has not reached position ${after} yet; retry`, undefined, { 'Retry-After': '1' });
}

export interface CollectionSpec {
  /** e.g. `/v1/zones` */
  path: string;
  tag: string;
  /** Singular, for messages and permissions: `zone` → `zone:list`, `zone:read`, ZONE_NOT_FOUND. */
  resource: string;
  collection: string;
  fields: FieldTypes;
  defaultSort?: Array<[string, 1 | -1]>;
  /** The field holding the resource's zone (`id` for zones): a zone-scoped principal sees its zones' only. */
  zoneField?: string;
  /** For a resource whose zone is not a field of its own: the list condition and the detail check of zone scoping. */
  zoneScope?: {
    listScope(res: Response, permission: string): Promise<Filter>;
    admits(res: Response, permission: string, doc: Doc): Promise<boolean>;
  };
  /**
   * Tenancy: a project session sees its project's resources only ('own'), or those and the
   * shared ones created outside any project ('ownOrShared': images, L3 networks).
   */
  projectScope?: 'own' | 'ownOrShared';
}

const notFoundCode = (resource: string) => `${resource.replace(/-/g, '_').toUpperCase()}_NOT_FOUND`;

/** GET <path> (list with the query language) and GET <path>/:id. */
export function listAndDetailEndpoints(deps: ReadDeps, spec: CollectionSpec): Endpoint[] {
  const label = spec.resource.replace(/-/g, ' ');
  return [
    endpoint({
      method: 'get',
      path: spec.path,
      tag: spec.tag,
      summary: `List ${label}s`,
      permission: `${spec.resource}:list`,
      listQuery: true,
      responses: { 200: { description: `${label}s` } },
      async handle({ req, res }) {
        const zoneScope = spec.zoneField ? zoneListScope(res, `${spec.resource}:list`, spec.zoneField)
          : spec.zoneScope ? await spec.zoneScope.listScope(res, `${spec.resource}:list`) : {};
        const projectScope = spec.projectScope === 'own' ? projectListScope(res) : spec.projectScope === 'ownOrShared' ? projectOrSharedListScope(res) : {};
        await sendList(req, res, deps, { collection: spec.collection, fields: spec.fields, defaultSort: spec.defaultSort ?? [['createdAt', -1]],
          scope: bothScopes(zoneScope, projectScope) });
      },
    }),
    endpoint({
      method: 'get',
      path: `${spec.path}/:id`,
      tag: spec.tag,
      summary: `One ${label}`,
      permission: `${spec.resource}:read`,
      responses: { 200: { description: `The ${label}` } },
      async handle({ req, res, params }) {
        await awaitPosition(req, deps.runner);
        const document = await deps.readStore.get(spec.collection, params.id!);
        if (!document) throw new ProblemError(404, notFoundCode(spec.resource), `no ${label} ${params.id}`);
        const notFound = { code: notFoundCode(spec.resource), detail: `no ${label} ${params.id}` };
        if (spec.projectScope === 'own') assertInProject(res, document, notFound);
        if (spec.projectScope === 'ownOrShared') assertReadableInProject(res, document, notFound);
        if (spec.zoneScope && !(await spec.zoneScope.admits(res, `${spec.resource}:read`, document))) {
          throw new ProblemError(404, notFoundCode(spec.resource), `no ${label} ${params.id}`);
        }
        if (spec.zoneField) assertZoneReadable(res, `${spec.resource}:read`, document[spec.zoneField], { code: notFoundCode(spec.resource), detail: `no ${label} ${params.id}` });
        res.json(document);
      },
    }),
  ];
}
