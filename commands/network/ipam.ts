import type { EventMetadata, EventStore } from '../../adapters/eventstore/port.js';
import { l3NetworkDecider, l3NetworkStream, requireL3Network, type ExistingL3Network, type IpAllocation } from '../../domain/network/l3-network.js';
import { macDecider, macStream } from '../../domain/network/mac.js';
import { DomainError } from '../../domain/shared/errors.js';
import { createAggregateCache } from '../shared/cached-command.js';
import { handleCommand } from '../shared/handle-command.js';
import { sha256Hex } from '../shared/ids.js';

// IP address management. The L3 network's stream owns its pool; each MAC is reserved in its
// own stream (`mac-<address>`), which makes MACs unique cloud-wide. Both are idempotent by
// NIC id, so a provisioning resumed after a crash gets the same address and MAC back.

/** Every command on an L3 stream goes through this cache, so they queue per network in this process. */
export const l3Aggregates = createAggregateCache(l3NetworkDecider);

export interface IpAssignment {
  ip: string;
  mac: string;
  gateway: string;
  netmask: string;
}

const macAttempts = 16;

/**
 * The MAC tried for a NIC: fa:xx:xx:xx:xx:xx (locally administered unicast), derived from
 * the NIC id so that a retried allocation asks for the same one first. With 40 free bits a
 * collision is rare, and then the next attempt's MAC is tried.
 */
export function macCandidate(nicId: string, attempt: number): string {
  const hex = sha256Hex(`mac:${nicId}:${attempt}`).slice(0, 10);
  return ['fa', ...hex.match(/../g)!].join(':');
}

/**
 * Allocates an address (the one asked, or the next free) and a cloud-wide unique MAC for a
 * NIC. Idempotent by `nicId`. Refusals: L3_NETWORK_NOT_FOUND, IP_NOT_AVAILABLE, IP_POOL_EXHAUSTED.
 *
 * The MAC reservation and the address allocation are written at the same time (one disk
 * flush instead of two in a row). A NIC counts as allocated only once both are written: if
 * the MAC was taken meanwhile (a hash collision), the address is released and the next MAC
 * tried; if the address is refused, the MAC is released. A crash between the two is repaired
 * by the next call for the NIC, which re-checks the MAC reservation of an existing allocation.
 */
export async function allocateIp(
  store: EventStore,
  l3NetworkId: string,
  request: { nicId: string; ip?: string },
  metadata: EventMetadata,
): Promise<IpAssignment> {
  const stream = l3NetworkStream(l3NetworkId);
  const { nicId } = request;
  const network = requireL3Network((await l3Aggregates.load(store, stream)).state);
  const existing = network.allocations.get(nicId);
  if (existing) {
    if (await holdsMac(store, l3NetworkId, existing.mac, nicId, metadata)) return assignment(network, existing);
    await releaseIp(store, l3NetworkId, nicId, metadata);
  }

  for (let attempt = 0; attempt < macAttempts; attempt++) {
    const mac = macCandidate(nicId, attempt);
    const command = { type: 'AllocateIp' as const, nicId, mac, ...(request.ip === undefined ? {} : { ip: request.ip }) };
    const [reserved, allocated] = await Promise.allSettled([
      reserveMac(store, l3NetworkId, mac, nicId, metadata),
      l3Aggregates.handle(store, stream, command, metadata),
    ]);
    if (allocated.status === 'rejected') {
      if (reserved.status === 'fulfilled') await releaseMac(store, mac, nicId, metadata);
      if (isMacInUse(allocated.reason)) continue;
      throw allocated.reason;
    }
    const state = requireL3Network(allocated.value.state);
    const allocation = state.allocations.get(nicId)!;
    if (reserved.status === 'rejected') {
      if (!isMacInUse(reserved.reason)) {
        if (allocation.mac === mac) await releaseIp(store, l3NetworkId, nicId, metadata);
        throw reserved.reason;
      }
      // Our MAC belongs to another NIC. If a concurrent call for this NIC won with its own MAC, that one stands.
      if (allocation.mac !== mac && (await holdsMac(store, l3NetworkId, allocation.mac, nicId, metadata))) return assignment(state, allocation);
      await releaseIp(store, l3NetworkId, nicId, metadata);
      continue;
    }
    // A concurrent call for the same NIC won with another MAC: ours is not needed.
    if (allocation.mac !== mac) await releaseMac(store, mac, nicId, metadata);
    return assignment(state, allocation);
  }
  throw new DomainError('MAC_POOL_EXHAUSTED', `no free MAC found for NIC ${nicId} after ${macAttempts} attempts`, 'conflict');
}

/** Releases a NIC's address and MAC; nothing allocated is not an error (compensation repeats). */
export async function releaseIp(store: EventStore, l3NetworkId: string, nicId: string, metadata: EventMetadata): Promise<{ released: boolean }> {
  const outcome = await l3Aggregates.handle(store, l3NetworkStream(l3NetworkId), { type: 'ReleaseIp', nicId }, metadata);
  const released = outcome.events.find((event) => event.type === 'IpReleased');
  if (released) {
    await releaseMac(store, (released.data as { mac: string }).mac, nicId, metadata);
    return { released: true };
  }
  // An allocation cut short by a crash may have reserved its (first-choice) MAC and no address.
  await releaseMac(store, macCandidate(nicId, 0), nicId, metadata);
  return { released: false };
}

function reserveMac(store: EventStore, l3NetworkId: string, mac: string, nicId: string, metadata: EventMetadata) {
  return handleCommand(store, macDecider, macStream(mac), { type: 'ReserveMac', mac, nicId, l3NetworkId }, metadata);
}

/** Whether the NIC holds the MAC, reserving it if it is free (repairs an allocation cut short by a crash). */
async function holdsMac(store: EventStore, l3NetworkId: string, mac: string, nicId: string, metadata: EventMetadata): Promise<boolean> {
  try {
    await reserveMac(store, l3NetworkId, mac, nicId, metadata);
    return true;
  } catch (error) {
    if (isMacInUse(error)) return false;
    throw error;
  }
}

const isMacInUse = (error: unknown) => error instanceof DomainError && error.code === 'MAC_IN_USE';

async function releaseMac(store: EventStore, mac: string, nicId: string, metadata: EventMetadata) {
  await handleCommand(store, macDecider, macStream(mac), { type: 'ReleaseMac', mac, nicId }, metadata);
}

function assignment(network: ExistingL3Network, allocation: IpAllocation): IpAssignment {
  const range = network.ranges.find((candidate) => candidate.ipRangeId === allocation.ipRangeId);
  if (!range) throw new Error(`allocation ${allocation.ip} refers to a range that is gone`);
  return { ip: allocation.ip, mac: allocation.mac, gateway: range.gateway, netmask: range.netmask };
}
