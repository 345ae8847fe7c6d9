import type { Request, Response } from 'express';
import type { Doc, Filter, ReadStore } from '../../adapters/readstore/port.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { ProblemError } from './problem.js';
import { parseListQuery, type FieldTypes, type ListQuery } from './query.js';

const readYourWritesWaitMs = 5_000;

export interface ListSpec {
  collection: string;
  fields: FieldTypes;
  defaultSort: Array<[string, 1 | -1]>;
  /** Conditions the caller may not lift (what the principal is allowed to see). */
  scope: Filter;
  extraParameters?: readonly string[];
}

/** Parses the query language and waits for `?after=<position>` (read-your-writes). */
export async function prepareList(req: Request, deps: { runner: ProjectionRunner }, spec: ListSpec): Promise<ListQuery> {
  const query = parseListQuery(req.query as Record<string, unknown>, spec.fields, {
    defaultSort: spec.defaultSort,
    extraParameters: ['after', ...(spec.extraParameters ?? [])],
  });
  const after = req.query.after;
  if (after !== undefined) {
    if (typeof after !== 'string' || !/^\d+$/.test(after)) {
      throw new ProblemError(400, 'INVALID_QUERY', 'after must be an event position', [{ field: 'after', message: 'must be a non-negative integer' }]);
    }
    const reached = await deps.runner.waitFor(Number(after), readYourWritesWaitMs);
    if (!reached) throw new ProblemError(503, 'READ_MODEL_BEHIND', `the read model has not reached position ${after} yet; retry`, undefined, { 'Retry-After': '1' });
  }
  const scoped = Object.keys(spec.scope).length === 0 ? query.filter : { $and: [spec.scope, query.filter] };
  return { ...query, filter: scoped };
}

export async function sendList(req: Request, res: Response, deps: { readStore: ReadStore; runner: ProjectionRunner }, spec: ListSpec) {
  const query = await prepareList(req, deps, spec);
  const items: Doc[] = await deps.readStore.find(spec.collection, query.filter, query.options);
  const body: { items: Doc[]; total?: number } = { items };
  if (query.count) body.total = await deps.readStore.count(spec.collection, query.filter);
  res.json(body);
}
