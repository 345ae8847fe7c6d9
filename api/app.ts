import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../adapters/eventstore/port.js';
import type { ReadStore } from '../adapters/readstore/port.js';
import type { Clock } from '../adapters/clock/port.js';
import type { SecretBox } from '../adapters/secrets/port.js';
import type { HostProbe } from '../commands/compute/hosts.js';
import type { FaultInjector } from '../adapters/hypervisor/port.js';
import type { Tasks } from '../commands/tasks/tasks.js';
import { DomainError } from '../domain/shared/errors.js';
import type { ProjectionRunner } from '../projections/shared/runner.js';
import { auditEndpoints } from './audit/audit-log.js';
import { vmInstanceEndpoints } from './compute/vm-instances.js';
import type { OperationRequester } from '../commands/effects/operation-request.js';
import { clusterEndpoints } from './compute/clusters.js';
import { hostEndpoints } from './compute/hosts.js';
import { imageStoreEndpoints } from './compute/image-stores.js';
import { imageEndpoints } from './compute/images.js';
import { offeringEndpoints } from './compute/offerings.js';
import { primaryStorageEndpoints } from './compute/primary-storages.js';
import { zoneEndpoints } from './compute/zones.js';
import { volumeEndpoints } from './compute/volumes.js';
import { volumeSnapshotEndpoints } from './compute/volume-snapshots.js';
import { l2NetworkEndpoints } from './network/l2-networks.js';
import { l3NetworkEndpoints } from './network/l3-networks.js';
import { simulatorEndpoints } from './compute/simulator.js';
import { healthRoutes } from './health/health.js';
import { authenticateRequests } from './identity/authenticate.js';
import { identityEndpoints } from './identity/index.js';
import { keepRawBody } from './identity/runtime.js';
import { sessionEndpoints } from './identity/sessions.js';
import { userEmailEndpoints } from './identity/user-email.js';
import { strictTransportSecurity } from './identity/transport-security.js';
import { settingsEndpoints } from './settings/settings.js';
import { taskEndpoints } from './tasks/tasks.js';
import { authorizeRequest } from './shared/authorize.js';
import { localsOf, mountEndpoints, type Endpoint, type Logger } from './shared/endpoint.js';
import type { Metrics } from './shared/metrics.js';
import { buildOpenApi } from './shared/openapi.js';
import { projectEndpoints } from './tenancy/projects.js';
import { projectResourceEndpoints } from './tenancy/project-resources.js';
import { projectRoleEndpoints } from './tenancy/project-roles.js';
import { organizationEndpoints } from './tenancy/organizations.js';
import { userGroupEndpoints } from './tenancy/user-groups.js';
import { ticketEndpoints } from './tickets/tickets.js';
import { ProblemError, problemFromDomain, sendProblem } from './shared/problem.js';

export interface ApiDeps {
  eventStore: EventStore;
  readStore: ReadStore;
  clock: Clock;
  tasks: Tasks;
  runner: ProjectionRunner;
  log: Logger;
  metrics: Metrics;
  /** CIDRs or addresses of proxies whose X-Forwarded-For is believed. */
  trustedProxies: string[];
  version: string;
  /** Seals host passwords before they enter an event. */
  secrets: SecretBox;
  /** The hypervisor driver's host probe (KVM hosts connect only with it; Simulator hosts fall back to their simulated capacity). */
  hostProbe?: HostProbe;
  /** Quick hypervisor operations a task awaits through the host's agent (guest agent commands on VMs). */
  requestOperation?: OperationRequester;
  /** Fault injection into simulator hosts (absent when no simulator runs). */
  faultInjector?: FaultInjector;
  /** Largest accepted request body. */
  bodyLimit?: string;
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

export function createApp(deps: ApiDeps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', deps.trustedProxies.length > 0 ? deps.trustedProxies : false);
  app.set('query parser', 'simple');

  app.use(correlate(deps));
  app.use(measure(deps.metrics));
  app.use(strictTransportSecurity());
  app.use(requireJsonBody);
  app.use(express.json({ limit: deps.bodyLimit ?? '1mb', strict: false, type: () => true, verify: keepRawBody }));
  app.use(authenticateRequests(deps));

  app.use(healthRoutes(deps));

  const endpoints: Endpoint[] = [
    ...sessionEndpoints(deps),
    ...identityEndpoints(deps),
    ...userEmailEndpoints(deps),
    ...taskEndpoints(deps),
    ...settingsEndpoints(deps),
    ...auditEndpoints(deps),
    ...zoneEndpoints(deps),
    ...clusterEndpoints(deps),
    ...hostEndpoints(deps),
    ...primaryStorageEndpoints(deps),
    ...imageStoreEndpoints(deps),
    ...imageEndpoints(deps),
    ...offeringEndpoints(deps),
    ...l2NetworkEndpoints(deps),
    ...l3NetworkEndpoints(deps),
    ...simulatorEndpoints(deps),
    ...volumeEndpoints(deps),
    ...volumeSnapshotEndpoints(deps),
    ...vmInstanceEndpoints(deps),
    ...projectEndpoints(deps),
    ...projectResourceEndpoints(deps),
    ...projectRoleEndpoints(deps),
    ...organizationEndpoints(deps),
    ...userGroupEndpoints(deps),
    ...ticketEndpoints(deps),
  ];
  const router = express.Router();
  const operations = mountEndpoints(router, endpoints, authorizeRequest(deps));
  const openApi = buildOpenApi(operations, { title: 'Stratus API', version: deps.version });
  app.get('/v1/openapi.json', (_req, res) => { res.json(openApi); });
  app.use(router);

  const routes = endpoints.map((spec) => ({ method: spec.method.toUpperCase(), pattern: pathPattern(spec.path) }));
  app.use((req: Request) => {
    const allowed = [...new Set(routes.filter((route) => route.pattern.test(req.path)).map((route) => route.method))];
    if (allowed.length > 0) {
      throw new ProblemError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}`, undefined, { Allow: allowed.join(', ') });
    }
    throw new ProblemError(404, 'NOT_FOUND', `no resource at ${req.path}`);
  });
  app.use(handleErrors);
  return app;
}

function pathPattern(path: string): RegExp {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+');
  return new RegExp(`^${escaped}/?$`);
}

function correlate(deps: ApiDeps) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.get('x-correlation-id');
    const correlationId = given && correlationIdPattern.test(given) ? given : randomUUID();
    res.setHeader('X-Correlation-Id', correlationId);
    const locals = localsOf(res);
    locals.correlationId = correlationId;
    locals.log = deps.log.child({ correlationId });
    next();
  };
}

function measure(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      const locals = localsOf(res);
      const line = { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(seconds * 1000), ip: req.ip };
      if (res.statusCode >= 500) locals.log.error(line, 'request failed');
      else locals.log.info(line, 'request');
    });
    next();
  };
}

/** A body must be JSON; a request without a body is fine. */
function requireJsonBody(req: Request, _res: Response, next: NextFunction) {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    throw new ProblemError(415, 'UNSUPPORTED_MEDIA_TYPE', 'request bodies must be application/json', [
      { field: 'Content-Type', message: `must be application/json, not ${req.get('content-type') ?? 'missing'}` },
    ]);
  }
  next();
}

function handleErrors(error: unknown, req: Request, res: Response, _next: NextFunction) {
  const locals = localsOf(res);
  const problem = toProblem(error);
  if (problem.status >= 500) locals.log.error({ err: error }, 'unexpected error');
  sendProblem(res, problem, req.originalUrl.split('?')[0] ?? req.path, locals.correlationId);
}

function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof DomainError) return problemFromDomain(error);
  const bodyError = error as { type?: string; status?: number };
  switch (bodyError?.type) {
    case 'entity.parse.failed':
      return new ProblemError(400, 'MALFORMED_JSON', 'the request body is not valid JSON', [{ field: 'body', message: 'malformed JSON' }]);
    case 'entity.too.large':
      return new ProblemError(413, 'PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ProblemError(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported body encoding or charset');
  }
  if (typeof bodyError?.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
    return new ProblemError(bodyError.status, 'BAD_REQUEST', 'the request could not be read');
  }
  return new ProblemError(500, 'INTERNAL_ERROR', 'an internal error occurred; the correlation id identifies it in the server log');
}
