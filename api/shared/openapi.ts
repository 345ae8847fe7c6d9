import { z } from 'zod';

// OpenAPI 3.1 generated from the same zod schemas that validate requests.

export interface OperationDoc {
  method: string;
  path: string;
  tag: string;
  summary: string;
  public: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  listQuery?: boolean;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
}

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', description: 'Stable machine-readable error code' },
    instance: { type: 'string' },
    correlationId: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
};

const listParameters = [
  { name: 'q', in: 'query', description: 'Condition <field><op><value>; ops = != > >= < <= ?= !?= ~=. Repeatable, ANDed.', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
  { name: 'sort', in: 'query', description: 'field or -field, comma-separated', schema: { type: 'string' } },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 1000, default: 100 } },
  { name: 'start', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
  { name: 'count', in: 'query', schema: { type: 'boolean' } },
];

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' });

export function buildOpenApi(operations: readonly OperationDoc[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const path = operation.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: unknown[] = [...operation.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => ({
      name: match[1], in: 'path', required: true, schema: { type: 'string' },
    }));
    if (operation.listQuery) parameters.push(...listParameters);
    if (operation.query) {
      const schema = jsonSchema(operation.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        parameters.push({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: property });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(operation.responses)) {
      responses[status] = response.schema
        ? { description: response.description, content: { 'application/json': { schema: jsonSchema(response.schema) } } }
        : { description: response.description };
    }
    responses.default = { description: 'Error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
    paths[path] ??= {};
    paths[path]![operation.method] = {
      tags: [operation.tag],
      summary: operation.summary,
      operationId: `${operation.method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      ...(operation.public ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(operation.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(operation.body) } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
  };
}
