import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { Principal } from '../../commands/identity/sessions.js';
import type { RequestContext } from '../../commands/shared/request-context.js';
import type { OperationDoc } from './openapi.js';
import { ProblemError, type FieldProblem } from './problem.js';

export interface Logger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
  child(bindings: object): Logger;
}

/** What the middleware learned about a request, kept in `res.locals`. */
export interface RequestLocals {
  correlationId: string;
  log: Logger;
  principal?: Principal;
  /** The permission the endpoint requires (zone scoping asks where the principal holds it). */
  permission?: string;
}

export const localsOf = (res: Response) => res.locals as unknown as RequestLocals;

/** Who asks and from where, for the command layer. Only for authenticated requests. */
export function requestContextOf(req: Request, res: Response): RequestContext {
  const locals = localsOf(res);
  if (!locals.principal) throw new ProblemError(401, 'UNAUTHENTICATED', 'authentication required');
  const context: RequestContext = { actor: locals.principal.actor, correlationId: locals.correlationId };
  if (req.ip) context.clientIp = req.ip;
  const userAgent = req.get('user-agent');
  if (userAgent) context.userAgent = userAgent;
  const idempotencyKey = req.get('idempotency-key');
  if (idempotencyKey !== undefined) {
    if (!/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
      throw new ProblemError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [
        { field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
    context.idempotencyKey = idempotencyKey;
  }
  return context;
}

export interface EndpointInput<B, Q> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: Record<string, string>;
}

/**
 * One API operation: its route, its documentation, the schemas that validate it, the
 * permission it needs (null: public), and its handler.
 */
export interface Endpoint<B = unknown, Q = unknown> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  tag: string;
  summary: string;
  permission: string | null;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  listQuery?: boolean;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handle(input: EndpointInput<B, Q>): Promise<void>;
}

export function endpoint<B = undefined, Q = undefined>(spec: Endpoint<B, Q>): Endpoint {
  return spec as unknown as Endpoint;
}

export type Authorizer = (req: Request, res: Response, permission: string) => Promise<void>;

export function mountEndpoints(router: Router, endpoints: readonly Endpoint[], authorize: Authorizer): OperationDoc[] {
  for (const spec of endpoints) {
    router[spec.method](spec.path, async (req: Request, res: Response) => {
      if (spec.permission !== null) {
        localsOf(res).permission = spec.permission;
        await authorize(req, res, spec.permission);
      }
      const body = spec.body ? parseWith(spec.body, req.body ?? {}, 'body') : undefined;
      const query = spec.query ? parseWith(spec.query, req.query, 'query') : req.query;
      await spec.handle({ req, res, body, query, params: req.params as Record<string, string> });
    });
  }
  return endpoints.map((spec) => {
    const doc: OperationDoc = {
      method: spec.method, path: spec.path, tag: spec.tag, summary: spec.summary, public: spec.permission === null, responses: spec.responses,
    };
    if (spec.body) doc.body = spec.body;
    if (spec.query) doc.query = spec.query;
    if (spec.listQuery) doc.listQuery = true;
    return doc;
  });
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldProblem[] = result.error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : where,
    message: issue.message,
  }));
  throw new ProblemError(400, 'VALIDATION_FAILED', `the request ${where} is not valid`, errors);
}
