import express from 'express';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ReadStore } from '../../adapters/readstore/port.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';
import type { Metrics } from '../shared/metrics.js';

/** Projections further behind than this make the node not ready. */
const maxReadyLag = 10_000;

export function healthRoutes(deps: { eventStore: EventStore; readStore: ReadStore; runner: ProjectionRunner; metrics: Metrics }) {
  const router = express.Router();
  router.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, unknown> = {};
    let ready = true;
    try {
      const head = await deps.eventStore.headPosition();
      checks.eventStore = { status: 'ok', head };
      const lag: Record<string, number> = {};
      for (const [name, position] of deps.runner.positions()) {
        lag[name] = Math.max(0, head - position);
        if (lag[name]! > maxReadyLag) ready = false;
      }
      checks.projections = { status: ready ? 'ok' : 'behind', lag };
    } catch {
      ready = false;
      checks.eventStore = { status: 'unreachable' };
    }
    try {
      await deps.readStore.checkpoint('audit-log');
      checks.readStore = { status: 'ok' };
    } catch {
      ready = false;
      checks.readStore = { status: 'unreachable' };
    }
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
