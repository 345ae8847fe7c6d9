import { ProblemError } from './problem.js';

// DESIGN.md §5: a resource's ETag is its stream's version; `If-Match` with it makes a write
// conditional (412 PRECONDITION_FAILED when the stream has moved on).

export const etagOf = (version: number) => `"${version}"`;

/** The version an `If-Match` header names; undefined without one (or `*`); a header that is no ETag of ours is a 400. */
export function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"(-?\d+)"\s*$/.exec(header);
  if (!match) throw new ProblemError(400, 'INVALID_IF_MATCH', 'If-Match must be an ETag given by this API', [{ field: 'If-Match', message: 'not an ETag of this resource' }]);
  return Number(match[1]);
}
