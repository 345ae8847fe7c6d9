// How many operations an agent runs at once on one host. The bus hands over the operations
// of different VMs in parallel (one VM's stay in order); this bounds what one hypervisor
// takes at a time, like ZStack's `kvm host.syncLevel` (default 10) or the worker pool of
// CloudStack's KVM agent. Waiters are served first come, first served; one that gives up
// (its deadline passed, the agent stops) leaves the queue without taking a slot.

export interface HostSlots {
  /** Resolves with the slot's release once the host has one free; rejects if `signal` aborts first. */
  acquire(hostId: string, signal?: AbortSignal): Promise<() => void>;
  /** Changes the limit for every host (a lower one lets running operations finish). */
  setLimit(limit: number): void;
  limit(): number;
  usage(hostId: string): { running: number; waiting: number };
}

interface Waiter {
  grant: (release: () => void) => void;
}

interface Host {
  running: number;
  waiting: Waiter[];
}

export const defaultHostConcurrency = 10;

export function createHostSlots(initialLimit = defaultHostConcurrency): HostSlots {
  let limit = checked(initialLimit);
  const hosts = new Map<string, Host>();

  function hostOf(hostId: string): Host {
    let host = hosts.get(hostId);
    if (!host) hosts.set(hostId, (host = { running: 0, waiting: [] }));
    return host;
  }

  function releaser(hostId: string, host: Host): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      host.running--;
      pump(hostId, host);
    };
  }

  function pump(hostId: string, host: Host) {
    while (host.running < limit && host.waiting.length > 0) {
      const next = host.waiting.shift()!;
      host.running++;
      next.grant(releaser(hostId, host));
    }
    if (host.running === 0 && host.waiting.length === 0) hosts.delete(hostId);
  }

  return {
    acquire(hostId, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      const host = hostOf(hostId);
      if (host.running < limit && host.waiting.length === 0) {
        host.running++;
        return Promise.resolve(releaser(hostId, host));
      }
      return new Promise<() => void>((resolve, reject) => {
        const onAbort = () => {
          const index = host.waiting.indexOf(waiter);
          if (index >= 0) host.waiting.splice(index, 1);
          pump(hostId, host);
          reject(signal!.reason as Error);
        };
        const waiter: Waiter = {
          grant: (release) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(release);
          },
        };
        host.waiting.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    setLimit(next) {
      limit = checked(next);
      for (const [hostId, host] of [...hosts]) pump(hostId, host);
    },

    limit: () => limit,

    usage(hostId) {
      const host = hosts.get(hostId);
      return { running: host?.running ?? 0, waiting: host?.waiting.length ?? 0 };
    },
  };
}

function checked(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`a host's concurrency limit is a whole number of at least 1, not ${limit}`);
  return limit;
}
