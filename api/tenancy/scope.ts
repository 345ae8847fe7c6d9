import type { Response } from 'express';
import type { Doc, Filter } from '../../adapters/readstore/port.js';
import { localsOf } from '../shared/endpoint.js';
import { ProblemError } from '../shared/problem.js';

// Project scoping for other contexts' endpoints: a project session sees and acts on its
// project's resources only. Outside a project session nothing is narrowed here.

/** The project the request acts in, if it comes from a project session. */
export const projectOfRequest = (res: Response): string | undefined => localsOf(res).principal?.project?.projectId;

/** The list filter a project session may not lift. */
export const projectListScope = (res: Response): Filter => {
  const projectId = projectOfRequest(res);
  return projectId ? { projectId } : {};
};

/** A resource outside the session's project is answered as not found: its existence is not told. */
export function assertInProject(res: Response, doc: Doc | undefined, notFound: { code: string; detail: string }): void {
  const projectId = projectOfRequest(res);
  if (projectId && (!doc || doc.projectId !== projectId)) throw new ProblemError(404, notFound.code, notFound.detail);
}

/** The project a create lands in: the session's; a body naming another is refused. */
export function projectForCreate(res: Response, requested: string | undefined): string | undefined {
  const projectId = projectOfRequest(res);
  if (projectId && requested !== undefined && requested !== projectId) {
    throw new ProblemError(403, 'FORBIDDEN', 'a project session creates resources in its own project only');
  }
  return projectId ?? requested;
}
