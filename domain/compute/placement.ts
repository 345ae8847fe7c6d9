// Placement (ZStack's host allocator chain, simplified): filter the hosts that may take the
// VM, then prefer the least allocated. Pure: the caller reserves the choice in the host's
// stream, which alone guarantees capacity (the candidates may come from a lagging read model).

export interface HostCandidate {
  hostId: string;
  zoneId: string;
  clusterId: string;
  state: string;
  enabled: boolean;
  maintenance: boolean;
  cpuTotal: number;
  cpuUsed: number;
  memoryTotal: number;
  memoryUsed: number;
}

export interface PlacementRequest {
  cpuCount: number;
  memoryBytes: number;
  zoneId?: string;
  clusterId?: string;
  hostId?: string;
}

/** Hosts that can take the request, least allocated first (ties: more free memory, then host id). */
export function rankHosts(candidates: HostCandidate[], request: PlacementRequest): HostCandidate[] {
  return candidates
    .filter((host) => (request.zoneId === undefined || host.zoneId === request.zoneId)
      && (request.clusterId === undefined || host.clusterId === request.clusterId)
      && (request.hostId === undefined || host.hostId === request.hostId)
      && host.state === 'Connected' && host.enabled && !host.maintenance
      && host.cpuTotal - host.cpuUsed >= request.cpuCount
      && host.memoryTotal - host.memoryUsed >= request.memoryBytes)
    .map((host) => ({ host, load: allocation(host), memoryFree: host.memoryTotal - host.memoryUsed }))
    .sort((a, b) => a.load - b.load || b.memoryFree - a.memoryFree || (a.host.hostId < b.host.hostId ? -1 : a.host.hostId > b.host.hostId ? 1 : 0))
    .map(({ host }) => host);
}

/** The fraction of a host in use: the mean of its CPU and memory allocation. */
export function allocation(host: Pick<HostCandidate, 'cpuTotal' | 'cpuUsed' | 'memoryTotal' | 'memoryUsed'>): number {
  const cpu = host.cpuTotal > 0 ? host.cpuUsed / host.cpuTotal : 1;
  const memory = host.memoryTotal > 0 ? host.memoryUsed / host.memoryTotal : 1;
  return (cpu + memory) / 2;
}
