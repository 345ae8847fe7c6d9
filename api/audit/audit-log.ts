import type { Response } from 'express';
import type { Doc, Filter, ReadStore } from '../../adapters/readstore/port.js';
import { auditCollection, auditLogFields } from '../../projections/audit/audit-log.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { prepareList, sendList, type ListSpec } from '../shared/list.js';
import { ProblemError } from '../shared/problem.js';

const spec: ListSpec = {
  collection: auditCollection,
  fields: auditLogFields,
  defaultSort: [['time', -1]],
  scope: {},
  extraParameters: ['format'],
};

const csvColumns = ['id', 'time', 'action', 'result', 'operator.kind', 'operator.id', 'operator.name', 'clientIp', 'userAgent',
  'resourceType', 'resourceIds', 'error.code', 'error.message', 'startedAt', 'finishedAt', 'correlationId', 'request'] as const;
const csvPageSize = 1000;

export function auditEndpoints(deps: { readStore: ReadStore; runner: ProjectionRunner }): Endpoint[] {
  return [
    endpoint({
      method: 'get',
      path: '/v1/audit-log',
      tag: 'audit',
      summary: 'The audit log, newest first. `format=csv` streams every matching entry as CSV.',
      permission: 'audit:read',
      listQuery: true,
      responses: { 200: { description: 'Audit entries' } },
      async handle({ req, res }) {
        const format = req.query.format;
        if (format === undefined || format === 'json') return sendList(req, res, deps, spec);
        if (format !== 'csv') throw new ProblemError(400, 'INVALID_QUERY', 'format must be json or csv', [{ field: 'format', message: 'must be json or csv' }]);
        const query = await prepareList(req, deps, spec);
        await streamCsv(res, deps.readStore, query.filter, query.options.sort ?? spec.defaultSort, req.query.limit === undefined ? Infinity : query.options.limit, query.options.skip);
      },
    }),
  ];
}

async function streamCsv(res: Response, readStore: ReadStore, filter: Filter, sort: Array<[string, 1 | -1]>, limit: number, skip: number) {
  res.status(200).type('text/csv; charset=utf-8').setHeader('Content-Disposition', 'attachment; filename="audit-log.csv"');
  res.write(csvColumns.join(',') + '\r\n');
  let sent = 0;
  while (sent < limit) {
    const page = await readStore.find(auditCollection, filter, { sort, skip: skip + sent, limit: Math.min(csvPageSize, limit - sent) });
    if (page.length === 0) break;
    const chunk = page.map((entry) => csvColumns.map((column) => csvCell(valueAt(entry, column))).join(',')).join('\r\n') + '\r\n';
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
    sent += page.length;
    if (page.length < csvPageSize) break;
  }
  res.end();
}

function valueAt(doc: Doc, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), doc);
}

/** RFC 4180 quoting; cells that a spreadsheet would run as a formula are prefixed with '. */
function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'string' ? value : Array.isArray(value) && value.every((item) => typeof item === 'string') ? value.join(' ') : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
