import type { RecordedEvent } from '../../adapters/eventstore/port.js';

// The project a resource belongs to, as its creation event records it: in its data (VMs) or,
// for resources whose events name no project, in the envelope's metadata (a command from a
// project session carries `projectId`, DESIGN.md §3 event envelope). A document gets the
// field only when there is a project: an absent field means a shared resource.

export function projectFieldOf(recorded: Pick<RecordedEvent, 'data' | 'metadata'>): { projectId?: string } {
  const projectId = (recorded.data as { projectId?: unknown } | undefined)?.projectId ?? recorded.metadata?.projectId;
  return typeof projectId === 'string' ? { projectId } : {};
}
