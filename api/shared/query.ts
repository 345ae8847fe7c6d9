import type { Filter, FindOptions } from '../../adapters/readstore/port.js';
import { ProblemError, type FieldProblem } from './problem.js';

// The query language of DESIGN.md §5:
//   ?q=<field><op><value> (repeatable, ANDed)  ops: = != > >= < <= ?= (in) !?= (not in) ~= (like, % and _)
//   &sort=field,-other  &limit=100 (max 1000)  &start=0  &count=true
// Fields are those a read model declares; anything else is a 400, never an empty answer.

export type FieldType = 'string' | 'number' | 'boolean' | 'time';
export type FieldTypes = Readonly<Record<string, FieldType>>;

export interface ListQuery {
  filter: Filter;
  options: FindOptions & { skip: number; limit: number };
  count: boolean;
}

const defaultLimit = 100;
const maxLimit = 1000;
const condition = /^([A-Za-z_][A-Za-z0-9_.]*)(!\?=|\?=|!=|>=|<=|~=|=|>|<)([\s\S]*)$/;
const listParameters = new Set(['q', 'sort', 'limit', 'start', 'count']);

export function parseListQuery(
  query: Record<string, unknown>,
  fields: FieldTypes,
  options: { defaultSort: Array<[string, 1 | -1]>; extraParameters?: readonly string[] },
): ListQuery {
  const problems: FieldProblem[] = [];
  for (const name of Object.keys(query)) {
    if (!listParameters.has(name) && !options.extraParameters?.includes(name)) {
      problems.push({ field: name, message: 'unknown query parameter' });
    }
  }

  const conditions: Filter[] = [];
  for (const text of values(query.q)) {
    const match = condition.exec(text);
    if (!match) {
      problems.push({ field: 'q', message: `"${text}" is not <field><operator><value>` });
      continue;
    }
    const [, field, op, raw] = match as unknown as [string, string, string, string];
    const type = fields[field];
    if (!type) {
      problems.push({ field: `q.${field}`, message: `unknown field; known fields: ${Object.keys(fields).join(', ')}` });
      continue;
    }
    try {
      conditions.push(toCondition(field, type, op, raw));
    } catch (error) {
      problems.push({ field: `q.${field}`, message: (error as Error).message });
    }
  }

  const sort: Array<[string, 1 | -1]> = [];
  for (const text of values(query.sort).flatMap((value) => value.split(','))) {
    const descending = text.startsWith('-');
    const field = descending || text.startsWith('+') ? text.slice(1) : text;
    if (!fields[field]) problems.push({ field: 'sort', message: `cannot sort by unknown field "${field}"` });
    else sort.push([field, descending ? -1 : 1]);
  }

  const limit = integerParameter(query.limit, 'limit', defaultLimit, 0, maxLimit, problems);
  const skip = integerParameter(query.start, 'start', 0, 0, Number.MAX_SAFE_INTEGER, problems);
  const countText = single(query.count);
  if (countText !== undefined && countText !== 'true' && countText !== 'false') {
    problems.push({ field: 'count', message: 'must be true or false' });
  }

  if (problems.length > 0) throw new ProblemError(400, 'INVALID_QUERY', 'the query is not valid', problems);
  const filter: Filter = conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0]! : { $and: conditions };
  return { filter, options: { sort: sort.length > 0 ? sort : options.defaultSort, skip, limit }, count: countText === 'true' };
}

function toCondition(field: string, type: FieldType, op: string, raw: string): Filter {
  switch (op) {
    case '=': return { [field]: typed(type, raw) };
    case '!=': return { [field]: { $ne: typed(type, raw) } };
    case '>': return { [field]: { $gt: ordered(type, raw) } };
    case '>=': return { [field]: { $gte: ordered(type, raw) } };
    case '<': return { [field]: { $lt: ordered(type, raw) } };
    case '<=': return { [field]: { $lte: ordered(type, raw) } };
    case '?=': return { [field]: { $in: list(raw).map((item) => typed(type, item)) } };
    case '!?=': return { [field]: { $nin: list(raw).map((item) => typed(type, item)) } };
    case '~=':
      if (type !== 'string') throw new Error('~= (like) applies to text fields only');
      return { [field]: { $regex: likeToRegex(raw), $options: 'i' } };
    default: throw new Error(`unknown operator ${op}`);
  }
}

function typed(type: FieldType, raw: string): string | number | boolean | null {
  if (raw === 'null') return null;
  switch (type) {
    case 'string': return raw;
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new Error(`"${raw}" is not a number`);
      return value;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw new Error(`"${raw}" is not true or false`);
      return raw === 'true';
    case 'time': return isoTimeOf(raw);
  }
}

function ordered(type: FieldType, raw: string): string | number {
  const value = typed(type, raw);
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error('this operator needs a number, a time or a text');
  return value;
}

/** Times are compared as ISO-8601 UTC strings, the form read models store them in. */
function isoTimeOf(raw: string): string {
  const epoch = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(epoch)) throw new Error(`"${raw}" is not an ISO-8601 time or epoch milliseconds`);
  return new Date(epoch).toISOString();
}

function likeToRegex(pattern: string): string {
  let regex = '^';
  for (const char of pattern) {
    if (char === '%') regex += '.*';
    else if (char === '_') regex += '.';
    else regex += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return regex + '$';
}

const list = (raw: string) => raw.split(',');

function values(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function single(value: unknown): string | undefined {
  const all = values(value);
  return all[all.length - 1];
}

function integerParameter(value: unknown, field: string, fallback: number, min: number, max: number, problems: FieldProblem[]): number {
  const text = single(value);
  if (text === undefined) return fallback;
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < min || number > max) {
    problems.push({ field, message: `must be an integer from ${min} to ${max}` });
    return fallback;
  }
  return number;
}
