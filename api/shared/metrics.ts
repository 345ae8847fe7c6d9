import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventStore } from '../../adapters/eventstore/port.js';
import type { ProjectionRunner } from '../../projections/shared/runner.js';

export interface Metrics {
  registry: Registry;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  eventsAppended: Counter;
}

/** Prometheus metrics: request latency, events appended, projection lag (in events). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requestDuration = new Histogram({
    name: 'stratus_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const eventsAppended = new Counter({
    name: 'stratus_events_appended_total',
    help: 'Events appended to the event store by this process',
    registers: [registry],
  });
  return { registry, requestDuration, eventsAppended };
}

export function registerProjectionLag(metrics: Metrics, eventStore: EventStore, runner: ProjectionRunner) {
  new Gauge({
    name: 'stratus_projection_lag_events',
    help: 'Events committed to the store that a projection has not applied yet',
    labelNames: ['projection'] as const,
    registers: [metrics.registry],
    async collect() {
      const head = await eventStore.headPosition();
      for (const [projection, position] of runner.positions()) this.set({ projection }, Math.max(0, head - position));
    },
  });
}
