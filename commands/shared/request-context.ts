import type { Actor, EventMetadata } from '../../adapters/eventstore/port.js';

/** Who asks, from where: what every command records in its events' metadata. */
export interface RequestContext {
  actor: Actor;
  correlationId: string;
  clientIp?: string;
  userAgent?: string;
  /** The client's `Idempotency-Key`, if any. */
  idempotencyKey?: string;
}

export const systemActor: Actor = { kind: 'system', id: 'system', name: 'system' };

export function metadataFor(context: RequestContext, extra: Partial<EventMetadata> = {}): EventMetadata {
  const metadata: EventMetadata = {
    correlationId: context.correlationId,
    actor: context.actor,
    schemaVersion: 1,
    ...extra,
  };
  if (context.clientIp) metadata.clientIp = context.clientIp;
  if (context.userAgent) metadata.userAgent = context.userAgent;
  return metadata;
}
