// Translates read-store filters and sorts (port.ts) into SQL over a collection table
// `(id TEXT PRIMARY KEY, doc TEXT)` whose `doc` is the document as JSON, with MongoDB's
// matching rules:
//
// - Values are typed: 1 ≠ '1' ≠ true. json_extract turns JSON true/false into 1/0, so a
//   comparison that could confuse a number 0/1 with a boolean also checks json_type.
// - `{f: null}` matches a missing field or a null; `$ne`/`$nin` match a missing field.
// - Range operators only compare values of the condition's type (numbers with numbers,
//   strings with strings, byte order like MongoDB's simple collation).
// - On an array field, equality, `$in`, ranges and `$regex` match when any element does
//   (each operator on its own, as MongoDB does without $elemMatch).
//
// How a path is compiled depends on what the collection declared about it (PathKinds):
//   'scalar' (the path is in a compound index) → the plain `json_extract(...) op ?`, so
//            that SQLite can use the expression index (an OR with an array branch would
//            prevent it). Arrays stored under such a path are then compared as a whole.
//   'multi'  (declared multiValued)           → EXISTS over json_each, always.
//   undeclared                                 → scalar test OR (is array AND EXISTS ...).
// Only the leaf of a dotted path may be an array; 'a.b' does not look inside an array `a`.
//
// Every value is a bound parameter; field paths are checked against SEGMENT before they are
// written into SQL text. Expression text is produced by `valueExpr` only, because SQLite
// uses an expression index only when the query's expression is identical to the index's.

import type { FieldCondition, Filter, FindOptions } from './port.js';

export type SqlValue = string | number | null;
export type PathKind = 'scalar' | 'multi';
export type PathKinds = ReadonlyMap<string, PathKind>;

/** A filter, sort or path the read store cannot run (an unknown operator, a bad path...). */
export class ReadStoreQueryError extends Error {
  readonly code = 'INVALID_READ_QUERY';
  constructor(message: string) {
    super(message);
    this.name = 'ReadStoreQueryError';
  }
}

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function assertPath(path: string): void {
  if (typeof path !== 'string' || path.length === 0) throw new ReadStoreQueryError('empty field path');
  for (const segment of path.split('.')) {
    if (!SEGMENT.test(segment)) throw new ReadStoreQueryError(`invalid field path ${JSON.stringify(path)}`);
  }
}

/** The SQL expression of a field's value; identical text in queries, sorts and indexes. */
export function valueExpr(path: string): string {
  if (path === 'id') return 'id';
  assertPath(path);
  return `json_extract(doc,'$.${path}')`;
}

function typeExpr(path: string): string {
  return `json_type(doc,'$.${path}')`;
}

/** Columns of an index over `fields`, ending with id so that sorts tie-broken by id use it. */
export function indexColumns(fields: ReadonlyArray<readonly [string, 1 | -1]>): string {
  const columns = fields.map(([path, direction]) => {
    assertDirection(direction);
    return `${valueExpr(path)}${direction === -1 ? ' DESC' : ''}`;
  });
  if (!fields.some(([path]) => path === 'id')) columns.push('id');
  return columns.join(', ');
}

function assertDirection(direction: unknown): void {
  if (direction !== 1 && direction !== -1) throw new ReadStoreQueryError(`sort direction must be 1 or -1, got ${String(direction)}`);
}

/** `ORDER BY` for a sort, ties broken by id ascending. */
export function compileOrderBy(sort: FindOptions['sort']): string {
  const terms: string[] = [];
  for (const [path, direction] of sort ?? []) {
    assertDirection(direction);
    terms.push(`${valueExpr(path)} ${direction === -1 ? 'DESC' : 'ASC'}`);
    if (path === 'id') return `ORDER BY ${terms.join(', ')}`;
  }
  terms.push('id ASC');
  return `ORDER BY ${terms.join(', ')}`;
}

export interface CompiledFilter {
  /** A boolean SQL expression ('1' for an empty filter). */
  sql: string;
  params: SqlValue[];
}

export function compileFilter(filter: Filter, kinds: PathKinds = new Map()): CompiledFilter {
  if (!isPlainObject(filter)) throw new ReadStoreQueryError('a filter must be an object');
  const { sql, params } = compileObject(filter, kinds);
  return { sql, params };
}

// ---------------------------------------------------------------------------------------
// Fragments

interface Frag {
  sql: string;
  params: SqlValue[];
}

const TRUE: Frag = { sql: '1', params: [] };
const FALSE: Frag = { sql: '0', params: [] };

function join(frags: Frag[], operator: 'AND' | 'OR'): Frag {
  if (frags.length === 0) return operator === 'AND' ? TRUE : FALSE;
  if (frags.length === 1) return frags[0]!;
  return {
    sql: `(${frags.map((f) => f.sql).join(` ${operator} `)})`,
    params: frags.flatMap((f) => f.params),
  };
}

/** Negation that treats "unknown" (NULL, e.g. a missing field) as "does not match". */
function not(frag: Frag): Frag {
  return { sql: `(${frag.sql}) IS NOT 1`, params: frag.params };
}

// ---------------------------------------------------------------------------------------
// Filters

function compileObject(filter: Filter, kinds: PathKinds): Frag {
  const parts: Frag[] = [];
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    if (value === undefined) continue;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) throw new ReadStoreQueryError(`${key} needs a non-empty array of filters`);
      const subs = value.map((sub) => {
        if (!isPlainObject(sub)) throw new ReadStoreQueryError(`${key} entries must be filters`);
        return compileObject(sub as Filter, kinds);
      });
      parts.push(join(subs, key === '$and' ? 'AND' : 'OR'));
    } else if (key.startsWith('$')) {
      throw new ReadStoreQueryError(`unknown top-level operator ${key}`);
    } else {
      parts.push(compileField(key, value, kinds));
    }
  }
  return join(parts, 'AND');
}

type Scalar = string | number | boolean | null;

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkScalar(op: string, value: unknown): Scalar {
  if (!isScalar(value)) throw new ReadStoreQueryError(`${op} needs a string, number, boolean or null`);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new ReadStoreQueryError(`${op} needs a finite number`);
  return value;
}

function checkScalarList(op: string, value: unknown): Scalar[] {
  if (!Array.isArray(value)) throw new ReadStoreQueryError(`${op} needs an array`);
  return value.map((v) => checkScalar(op, v));
}

const RANGE_SQL = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;
type RangeOp = keyof typeof RANGE_SQL;

function compileField(path: string, condition: unknown, kinds: PathKinds): Frag {
  if (path === 'id') return compileIdField(condition);
  assertPath(path);
  const field = new FieldSql(path, kinds.get(path));
  if (isScalar(condition)) return field.equals(checkScalar(path, condition));
  if (!isPlainObject(condition)) throw new ReadStoreQueryError(`condition on ${path} must be a value or an operator object`);
  const ops = Object.keys(condition);
  if (ops.length === 0) throw new ReadStoreQueryError(`empty condition on ${path}`);
  const cond = condition as FieldCondition;
  const parts: Frag[] = [];
  for (const op of ops) {
    const operand = (condition as Record<string, unknown>)[op];
    switch (op) {
      case '$eq':
        parts.push(field.equals(checkScalar(op, operand)));
        break;
      case '$ne':
        parts.push(not(field.equals(checkScalar(op, operand))));
        break;
      case '$in':
        parts.push(field.in(checkScalarList(op, operand)));
        break;
      case '$nin':
        parts.push(not(field.in(checkScalarList(op, operand))));
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        parts.push(field.range(op, operand));
        break;
      case '$exists':
        if (typeof operand !== 'boolean') throw new ReadStoreQueryError('$exists needs true or false');
        parts.push({ sql: `${typeExpr(path)} IS ${operand ? 'NOT NULL' : 'NULL'}`, params: [] });
        break;
      case '$regex':
        parts.push(field.regex(operand, cond.$options));
        break;
      case '$options':
        if (cond.$regex === undefined) throw new ReadStoreQueryError('$options without $regex');
        break;
      default:
        throw new ReadStoreQueryError(`unknown operator ${op} on ${path}`);
    }
  }
  return join(parts, 'AND');
}

/** An element test written against a value expression and its json_type expression. */
type Pred = (value: string, type: string) => Frag;

class FieldSql {
  private readonly x: string;
  private readonly t: string;

  constructor(
    private readonly path: string,
    private readonly kind: PathKind | undefined,
  ) {
    this.x = valueExpr(path);
    this.t = typeExpr(path);
  }

  equals(value: Scalar): Frag {
    if (value === null) return this.isNull();
    return this.any(eqPred(value));
  }

  in(values: Scalar[]): Frag {
    const nonNull = values.filter((v): v is Exclude<Scalar, null> => v !== null);
    const parts: Frag[] = [];
    if (nonNull.length < values.length) parts.push(this.isNull());
    if (nonNull.length > 0) parts.push(this.any(inPred(nonNull)));
    return join(parts, 'OR');
  }

  range(op: RangeOp, operand: unknown): Frag {
    return this.any(rangePred(op, operand));
  }

  regex(pattern: unknown, options: unknown): Frag {
    const flags = regexFlags(options);
    if (typeof pattern !== 'string') throw new ReadStoreQueryError('$regex needs a string pattern');
    compileRegExp(pattern, flags); // reject a bad pattern here rather than inside SQLite
    const test = this.any(regexPred(pattern, flags));
    const prefix = this.kind === 'scalar' ? literalPrefix(pattern, flags) : undefined;
    if (prefix === undefined) return test;
    // A literal anchored prefix also becomes an index range (a superset; the regexp decides).
    const bounds: Frag[] = [{ sql: `${this.x} >= ?`, params: [prefix] }];
    const upper = prefixUpperBound(prefix);
    if (upper !== undefined) bounds.push({ sql: `${this.x} < ?`, params: [upper] });
    return join([...bounds, test], 'AND');
  }

  private isNull(): Frag {
    if (this.kind === 'scalar') return { sql: `${this.x} IS NULL`, params: [] };
    const elementIsNull = (_value: string, t: string): Frag => ({ sql: `${t} = 'null'`, params: [] });
    return join([{ sql: `${this.x} IS NULL`, params: [] }, this.inArray(elementIsNull)], 'OR');
  }

  /** The test on the value itself, or on any element when the value is an array. */
  private any(pred: Pred): Frag {
    if (this.kind === 'scalar') return pred(this.x, this.t);
    if (this.kind === 'multi') return this.inElements(pred);
    return join([pred(this.x, this.t), this.inArray(pred)], 'OR');
  }

  /** EXISTS over the value's elements; json_each yields a scalar itself, an object its members (excluded). */
  private inElements(pred: Pred): Frag {
    const p = pred('e.value', 'e.type');
    return {
      sql: `EXISTS (SELECT 1 FROM json_each(doc,'$.${this.path}') AS e WHERE typeof(e.key) <> 'text' AND ${p.sql})`,
      params: p.params,
    };
  }

  private inArray(pred: Pred): Frag {
    if (this.kind === 'multi') return this.inElements(pred);
    const p = pred('e.value', 'e.type');
    return {
      sql: `(${this.t} = 'array' AND EXISTS (SELECT 1 FROM json_each(doc,'$.${this.path}') AS e WHERE ${p.sql}))`,
      params: p.params,
    };
  }
}

/** Strings that could be the JSON text json_extract returns for an array or an object. */
function looksLikeJsonText(value: string): boolean {
  return value.startsWith('[') || value.startsWith('{');
}

/** Numbers that json_extract also returns for true/false. */
function collidesWithBoolean(value: number): boolean {
  return value === 0 || value === 1;
}

function eqPred(value: Exclude<Scalar, null>): Pred {
  return (x, t) => {
    if (typeof value === 'boolean') return { sql: `(${x} = ${value ? 1 : 0} AND ${t} = '${value}')`, params: [] };
    if (typeof value === 'string') {
      return looksLikeJsonText(value) ? { sql: `(${x} = ? AND ${t} = 'text')`, params: [value] } : { sql: `${x} = ?`, params: [value] };
    }
    return collidesWithBoolean(value)
      ? { sql: `(${x} = ? AND ${t} IN ('integer','real'))`, params: [value] }
      : { sql: `${x} = ?`, params: [value] };
  };
}

function inPred(values: Array<Exclude<Scalar, null>>): Pred {
  const plain = values.filter(
    (v): v is string | number =>
      (typeof v === 'string' && !looksLikeJsonText(v)) || (typeof v === 'number' && !collidesWithBoolean(v)),
  );
  const special = values.filter((v) => !plain.includes(v as string | number));
  return (x, t) => {
    const parts: Frag[] = [];
    if (plain.length === 1) parts.push({ sql: `${x} = ?`, params: plain });
    if (plain.length > 1) parts.push({ sql: `${x} IN (${plain.map(() => '?').join(',')})`, params: plain });
    for (const v of special) parts.push(eqPred(v)(x, t));
    return join(parts, 'OR');
  };
}

function rangePred(op: RangeOp, operand: unknown): Pred {
  let typeTest: string;
  if (typeof operand === 'number' && Number.isFinite(operand)) typeTest = "IN ('integer','real')";
  else if (typeof operand === 'string') typeTest = "= 'text'";
  else throw new ReadStoreQueryError(`${op} needs a number or a string`);
  return (x, t) => ({ sql: `(${x} ${RANGE_SQL[op]} ? AND ${t} ${typeTest})`, params: [operand] });
}

function regexPred(pattern: string, flags: string): Pred {
  return (x, t) => ({ sql: `(${t} = 'text' AND regexp(?, ${x}, ?))`, params: [pattern, flags] });
}

function compileIdField(condition: unknown): Frag {
  // The id column is always a string and always present.
  const eq = (v: Scalar): Frag => (typeof v === 'string' ? { sql: 'id = ?', params: [v] } : FALSE);
  const inList = (vs: Scalar[]): Frag => {
    const strings = vs.filter((v): v is string => typeof v === 'string');
    if (strings.length === 0) return FALSE;
    return { sql: `id IN (${strings.map(() => '?').join(',')})`, params: strings };
  };
  if (isScalar(condition)) return eq(checkScalar('id', condition));
  if (!isPlainObject(condition)) throw new ReadStoreQueryError('condition on id must be a value or an operator object');
  const ops = Object.keys(condition);
  if (ops.length === 0) throw new ReadStoreQueryError('empty condition on id');
  const parts: Frag[] = [];
  for (const op of ops) {
    const operand = condition[op];
    switch (op) {
      case '$eq':
        parts.push(eq(checkScalar(op, operand)));
        break;
      case '$ne':
        parts.push(not(eq(checkScalar(op, operand))));
        break;
      case '$in':
        parts.push(inList(checkScalarList(op, operand)));
        break;
      case '$nin':
        parts.push(not(inList(checkScalarList(op, operand))));
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        if (typeof operand === 'string') parts.push({ sql: `id ${RANGE_SQL[op]} ?`, params: [operand] });
        else if (typeof operand === 'number' && Number.isFinite(operand)) parts.push(FALSE);
        else throw new ReadStoreQueryError(`${op} needs a number or a string`);
        break;
      case '$exists':
        if (typeof operand !== 'boolean') throw new ReadStoreQueryError('$exists needs true or false');
        parts.push(operand ? TRUE : FALSE);
        break;
      case '$regex': {
        if (typeof operand !== 'string') throw new ReadStoreQueryError('$regex needs a string pattern');
        const flags = regexFlags(condition.$options);
        compileRegExp(operand, flags);
        const test: Frag = { sql: 'regexp(?, id, ?)', params: [operand, flags] };
        const prefix = literalPrefix(operand, flags);
        if (prefix === undefined) parts.push(test);
        else {
          parts.push({ sql: 'id >= ?', params: [prefix] });
          const upper = prefixUpperBound(prefix);
          if (upper !== undefined) parts.push({ sql: 'id < ?', params: [upper] });
          parts.push(test);
        }
        break;
      }
      case '$options':
        if (condition.$regex === undefined) throw new ReadStoreQueryError('$options without $regex');
        break;
      default:
        throw new ReadStoreQueryError(`unknown operator ${op} on id`);
    }
  }
  return join(parts, 'AND');
}

// ---------------------------------------------------------------------------------------
// Regular expressions

function regexFlags(options: unknown): string {
  if (options === undefined || options === '') return '';
  if (typeof options !== 'string' || !/^[ims]*$/.test(options)) {
    throw new ReadStoreQueryError(`unsupported $options ${JSON.stringify(options)}`);
  }
  return [...new Set(options)].sort().join('');
}

const REGEXP_CACHE_LIMIT = 500;
const regexpCache = new Map<string, RegExp>();

/** A compiled pattern, cached (the SQL function calls this once per row). */
export function compileRegExp(pattern: string, flags: string): RegExp {
  const key = `${flags}/${pattern}`;
  let re = regexpCache.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, flags);
    } catch (error) {
      throw new ReadStoreQueryError(`invalid $regex: ${(error as Error).message}`);
    }
    if (regexpCache.size >= REGEXP_CACHE_LIMIT) regexpCache.clear();
    regexpCache.set(key, re);
  }
  return re;
}

/** The SQL function `regexp(pattern, value, flags)` the compiled filters call. */
export function sqlRegexp(pattern: unknown, value: unknown, flags: unknown): number {
  if (typeof value !== 'string' || typeof pattern !== 'string') return 0;
  return compileRegExp(pattern, typeof flags === 'string' ? flags : '').test(value) ? 1 : 0;
}

const REGEX_META = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}']);

/** The literal text every match must start with, for `^literal...` patterns; else undefined. */
export function literalPrefix(pattern: string, flags: string): string | undefined {
  if (flags.includes('i') || flags.includes('m') || !pattern.startsWith('^') || pattern.includes('|')) return undefined;
  const chars: string[] = [];
  let i = 1;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) break; // \d, \b, \1 ... are not literals
      chars.push(next);
      i += 2;
    } else if (REGEX_META.has(c)) {
      break;
    } else {
      const cp = pattern.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      chars.push(ch);
      i += ch.length;
    }
  }
  // A quantifier after the run makes its last character optional or repeated.
  if (i < pattern.length && '?*{'.includes(pattern[i]!)) chars.pop();
  const prefix = chars.join('');
  return prefix.length > 0 ? prefix : undefined;
}

/** The smallest string greater than every string starting with `prefix` (code-point order). */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = [...prefix].map((ch) => ch.codePointAt(0)!);
  while (cps.length > 0) {
    let last = cps.pop()! + 1;
    if (last === 0xd800) last = 0xe000;
    if (last <= 0x10ffff) return String.fromCodePoint(...cps, last);
  }
  return undefined;
}
