// Patches of the read-store port (`WriteBatch.patch`): MongoDB's $set / $unset by dotted
// path, parsed once and applied in memory to documents a batch holds. Shared by the SQLite
// adapter (which applies every patch itself) and the MongoDB adapter (which applies them to
// documents it has read, and sends the rest to the server), so that both refuse and apply
// exactly the same patches.
import type { Doc } from './port.js';

/** A parsed patch: each change as its path's segments and the value (undefined: unset). */
export type PatchPaths = Array<[segments: string[], value: unknown]>;

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;
/** How far past an array's end a patch may set an element (the gap is filled with nulls). */
const MAX_ARRAY_PADDING = 1000;

/**
 * Validates and copies a patch. `reserved` names top-level fields a patch may not change
 * (`id` always; an adapter adds its bookkeeping fields); `$`-prefixed segments are refused
 * because MongoDB would read them as operators.
 */
export function parsePatch(fields: Record<string, unknown>, reserved: readonly string[] = []): PatchPaths {
  if (typeof fields !== 'object' || fields === null) throw new TypeError('patch fields must be an object');
  const out: PatchPaths = [];
  let dotted = false;
  for (const [path, value] of Object.entries(fields)) {
    const segments = path.split('.');
    if (segments.length > 1) dotted = true;
    if (segments.some((s) => s === '' || s.startsWith('$') || FORBIDDEN_SEGMENTS.has(s))) throw new TypeError(`invalid patch path ${JSON.stringify(path)}`);
    if (segments[0] === 'id' || reserved.includes(segments[0]!)) throw new TypeError(`a patch cannot change ${segments[0]}`);
    // Copy now: later changes to the caller's objects must not leak into the batch.
    out.push([segments, typeof value === 'object' && value !== null ? JSON.parse(JSON.stringify(value)) : value]);
  }
  // Distinct keys conflict only when one is a dotted path into another.
  if (dotted && out.length > 1) {
    const paths = out.map(([s]) => s.join('.')).sort();
    for (let i = 1; i < paths.length; i++) {
      if (paths[i]!.startsWith(`${paths[i - 1]!}.`)) throw new TypeError(`patch paths ${paths[i - 1]} and ${paths[i]} conflict`);
    }
  }
  return out;
}

/** Applies all changes or, when one cannot be applied (MongoDB would refuse it), none. */
export function applyPatch(doc: Doc, changes: PatchPaths): void {
  for (const [segments, value] of changes) setPath(doc, segments, value, true);
  for (const [segments, value] of changes) setPath(doc, segments, value, false);
}

/** Sets (or, with `undefined`, unsets) one path; `dryRun` only checks that it can be done. */
export function setPath(root: Record<string, unknown>, segments: string[], value: unknown, dryRun: boolean): void {
  let current: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const isArray = Array.isArray(current);
    if (isArray && !ARRAY_INDEX.test(segment)) {
      if (value === undefined) return;
      throw new TypeError(`cannot create field '${segment}' in array '${segments.slice(0, i).join('.')}'`);
    }
    const index = isArray ? Number(segment) : -1;
    if (isArray && index > (current as unknown[]).length + MAX_ARRAY_PADDING) {
      throw new TypeError(`array index ${segment} is too far past the end of '${segments.slice(0, i).join('.')}'`);
    }
    if (i === segments.length - 1) {
      if (dryRun) return;
      if (isArray) {
        const array = current as unknown[];
        // MongoDB's $unset of an array element leaves a null in its place.
        if (value === undefined) {
          if (index < array.length) array[index] = null;
        } else {
          while (array.length < index) array.push(null);
          array[index] = value;
        }
      } else if (value === undefined) {
        delete (current as Record<string, unknown>)[segment];
      } else {
        (current as Record<string, unknown>)[segment] = value;
      }
      return;
    }
    let next: unknown = isArray
      ? (current as unknown[])[index]
      : Object.hasOwn(current, segment)
        ? (current as Record<string, unknown>)[segment]
        : undefined;
    if (next === undefined) {
      if (value === undefined || dryRun) return; // nothing to unset / the rest will be created
      next = {};
      if (isArray) {
        const array = current as unknown[];
        while (array.length < index) array.push(null);
        array[index] = next;
      } else {
        (current as Record<string, unknown>)[segment] = next;
      }
    } else if (typeof next !== 'object' || next === null) {
      if (value === undefined) return;
      throw new TypeError(`cannot create field '${segments[i + 1]}' in '${segments.slice(0, i + 1).join('.')}'`);
    }
    current = next as Record<string, unknown> | unknown[];
  }
}
