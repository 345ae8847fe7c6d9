import type { Response } from 'express';
import { DomainError } from '../../domain/shared/errors.js';
import type { TaskError } from '../../domain/tasks/task.js';

// RFC 9457 problem details. Every error the API gives is one of these, with a stable `code`.

export interface FieldProblem {
  field: string;
  message: string;
}

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: FieldProblem[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ProblemError';
  }
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const statusOfKind: Record<string, number> = {
  conflict: 409,
  invalid: 400,
  not_found: 404,
  forbidden: 403,
  unauthorized: 401,
  gone: 410,
  precondition: 412,
  // A bug, not the client's doing: the answer says so, and the log has the details.
  internal: 500,
};

export function problemFromDomain(error: DomainError | TaskError): ProblemError {
  const kind = error instanceof DomainError ? error.kind : error.kind ?? (error.code === 'INTERNAL_ERROR' ? 'internal' : 'conflict');
  const fields = (error.details as { fields?: FieldProblem[] } | undefined)?.fields;
  return new ProblemError(statusOfKind[kind] ?? 409, error.code, error.message, fields);
}

export function sendProblem(res: Response, problem: ProblemError, instance: string, correlationId?: string) {
  if (problem.headers) for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  const body: Record<string, unknown> = {
    type: 'about:blank',
    title: titles[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.message,
    code: problem.code,
    instance,
  };
  if (problem.errors?.length) body.errors = problem.errors;
  if (correlationId) body.correlationId = correlationId;
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(body));
}
