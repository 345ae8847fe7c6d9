import { describe, expect, it } from 'vitest';
import { parseListQuery } from '../../../api/shared/query.js';

const fields = { name: 'string', size: 'number', time: 'time', active: 'boolean' } as const;
const parse = (query: Record<string, unknown>) => parseListQuery(query, fields, { defaultSort: [['time', -1]] });

describe('query language', () => {
  it('turns each operator into a read-store condition', () => {
    expect(parse({ q: 'name=web' }).filter).toEqual({ name: 'web' });
    expect(parse({ q: 'name!=web' }).filter).toEqual({ name: { $ne: 'web' } });
    expect(parse({ q: ['size>1', 'size<=5'] }).filter).toEqual({ $and: [{ size: { $gt: 1 } }, { size: { $lte: 5 } }] });
    expect(parse({ q: 'name?=a,b' }).filter).toEqual({ name: { $in: ['a', 'b'] } });
    expect(parse({ q: 'name!?=a,b' }).filter).toEqual({ name: { $nin: ['a', 'b'] } });
    expect(parse({ q: 'name~=web%1_' }).filter).toEqual({ name: { $regex: '^web.*1.$', $options: 'i' } });
    expect(parse({ q: 'active=true' }).filter).toEqual({ active: true });
    expect(parse({ q: 'name=null' }).filter).toEqual({ name: null });
  });

  it('normalizes times to ISO-8601 UTC', () => {
    expect(parse({ q: 'time>=2026-01-02T03:04:05+01:00' }).filter).toEqual({ time: { $gte: '2026-01-02T02:04:05.000Z' } });
    expect(parse({ q: 'time<0' }).filter).toEqual({ time: { $lt: '1970-01-01T00:00:00.000Z' } });
  });

  it('escapes regex characters in like patterns', () => {
    expect(parse({ q: 'name~=a.b(c)%' }).filter).toEqual({ name: { $regex: '^a\\.b\\(c\\).*$', $options: 'i' } });
  });

  it('sorts, pages and counts with defaults and bounds', () => {
    expect(parse({}).options).toEqual({ sort: [['time', -1]], skip: 0, limit: 100 });
    expect(parse({ sort: 'name,-size', start: '10', limit: '1000', count: 'true' })).toMatchObject({
      options: { sort: [['name', 1], ['size', -1]], skip: 10, limit: 1000 },
      count: true,
    });
  });

  it('rejects unknown fields, parameters, bad values and limits, naming each', () => {
    const attempt = (query: Record<string, unknown>) => {
      try { parse(query); return []; } catch (error) { return (error as { errors: Array<{ field: string }> }).errors.map((e) => e.field); }
    };
    expect(attempt({ q: 'colour=red' })).toEqual(['q.colour']);
    expect(attempt({ q: 'size=big' })).toEqual(['q.size']);
    expect(attempt({ q: 'size~=1%' })).toEqual(['q.size']);
    expect(attempt({ q: 'no operator' })).toEqual(['q']);
    expect(attempt({ limit: '1001', start: '-1', count: 'maybe', sort: 'colour', page: '2' })).toEqual(['page', 'sort', 'limit', 'start', 'count']);
  });
});
