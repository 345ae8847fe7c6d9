import type { Response } from 'express';
import type { Doc, Filter, ReadStore } from '../../adapters/readstore/port.js';
import { projectsCollection } from '../../projections/tenancy/projects.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { projectOfStream } from '../../commands/tenancy/quota-release.js';
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

/** A project session reaches its own project only: another is answered as not found. */
export function assertOwnProject(res: Response, projectId: string): void {
  const own = projectOfRequest(res);
  if (own && own !== projectId) throw new ProblemError(404, 'PROJECT_NOT_FOUND', `no project ${projectId}`);
}

/**
 * The list filter for a resource that may also be shared: a project session sees its
 * project's and those created outside any project (public images, shared L3 networks).
 */
export const projectOrSharedListScope = (res: Response): Filter => {
  const projectId = projectOfRequest(res);
  return projectId ? { $or: [{ projectId }, { projectId: null }] } : {}; // null matches a missing field too
};

/** Readable from a project session: the project's own resource, or a shared one (no project). */
export function assertReadableInProject(res: Response, doc: Doc | undefined, notFound: { code: string; detail: string }): void {
  const projectId = projectOfRequest(res);
  if (!projectId) return;
  const owner = doc?.projectId;
  if (!doc || (owner !== undefined && owner !== null && owner !== projectId)) throw new ProblemError(404, notFound.code, notFound.detail);
}

/** Metadata of a command from a project session: its events record the project (the envelope's projectId). */
export function inProject<M extends object>(metadata: M, projectId: string | undefined): M {
  return projectId === undefined ? metadata : { ...metadata, projectId };
}

/** The zone a project's resources go to when none is asked (the project's zone), from its read model: set once, at creation. */
export async function projectZone(readStore: ReadStore, projectId: string | undefined): Promise<string | undefined> {
  if (projectId === undefined) return undefined;
  const project = await readStore.get(projectsCollection, projectId);
  return typeof project?.zoneId === 'string' ? project.zoneId : undefined;
}

/**
 * A project session acts on its project's resource only; its ownership is read from the
 * resource's own stream (its creation event), not from a read model that may lag behind a
 * resource just created. Another project's, a shared one, or none at all: not found.
 */
export async function assertStreamInProject(res: Response, store: EventStore, stream: string, notFound: { code: string; detail: string }): Promise<void> {
  const projectId = projectOfRequest(res);
  if (!projectId) return;
  if ((await projectOfStream(store, stream)) !== projectId) throw new ProblemError(404, notFound.code, notFound.detail);
}

/** What a project session may use (an image, an L3 network): its project's, or a shared one; another project's is not found. */
export async function assertStreamUsableInProject(res: Response, store: EventStore, stream: string, notFound: { code: string; detail: string }): Promise<void> {
  const projectId = projectOfRequest(res);
  if (!projectId) return;
  const owner = await projectOfStream(store, stream);
  if (owner !== undefined && owner !== projectId) throw new ProblemError(404, notFound.code, notFound.detail);
}
