import { describe, expect, it } from 'vitest';
import { clusterDecider, type ClusterEvent } from '../../../domain/compute/cluster.js';
import { defaultSimulatedCapacity, hostDecider, type HostEvent } from '../../../domain/compute/host.js';
import { imageStoreDecider } from '../../../domain/compute/image-store.js';
import { imageDecider, type ImageEvent } from '../../../domain/compute/image.js';
import { diskOfferingDecider, instanceOfferingDecider, type DiskOfferingEvent, type InstanceOfferingEvent } from '../../../domain/compute/offering.js';
import { allocation, rankHosts, type HostCandidate } from '../../../domain/compute/placement.js';
import { primaryStorageDecider, type PrimaryStorageEvent } from '../../../domain/compute/primary-storage.js';
import { zoneDecider, type ZoneEvent } from '../../../domain/compute/zone.js';
import { fold } from '../../../domain/shared/decider.js';
import { ImmutableMap } from '../../../domain/shared/immutable-map.js';
import { scenario } from '../../support/given-when-then.js';

const GiB = 1024 ** 3;
const t0 = Date.UTC(2026, 0, 1);

describe('zone decider', () => {
  const zones = scenario(zoneDecider);
  const created: ZoneEvent = { type: 'ZoneCreated', data: { zoneId: 'z1', name: 'zone-1', description: '', createdAt: t0 } };

  it('creates a zone', () => {
    zones.given().when({ type: 'CreateZone', zoneId: 'z1', name: 'zone-1', now: t0 }).then([created]);
  });
  it('refuses to create it twice, or without a name', () => {
    zones.given(created).when({ type: 'CreateZone', zoneId: 'z1', name: 'zone-1', now: t0 }).thenFails('ZONE_EXISTS');
    zones.given().when({ type: 'CreateZone', zoneId: 'z1', name: '  ', now: t0 }).thenFails('INVALID_ZONE');
  });
});

describe('cluster decider', () => {
  const clusters = scenario(clusterDecider);
  const created: ClusterEvent = { type: 'ClusterCreated', data: { clusterId: 'c1', zoneId: 'z1', name: 'c', description: 'd', hypervisorType: 'Simulator', createdAt: t0 } };

  it('creates a cluster in a zone', () => {
    clusters.given().when({ type: 'CreateCluster', clusterId: 'c1', zoneId: 'z1', name: 'c', description: 'd', hypervisorType: 'Simulator', now: t0 }).then([created]);
  });
  it('refuses a second creation and an empty name', () => {
    clusters.given(created).when({ type: 'CreateCluster', clusterId: 'c1', zoneId: 'z1', name: 'c', hypervisorType: 'Simulator', now: t0 }).thenFails('CLUSTER_EXISTS');
    clusters.given().when({ type: 'CreateCluster', clusterId: 'c1', zoneId: 'z1', name: '', hypervisorType: 'KVM', now: t0 }).thenFails('INVALID_CLUSTER');
  });
});

describe('host decider', () => {
  const hosts = scenario(hostDecider);
  const addSimulator = {
    type: 'AddHost', hostId: 'h1', name: 'host-1', zoneId: 'z1', clusterId: 'c1', hypervisorType: 'Simulator',
    managementIp: '192.0.2.10', username: 'root', encryptedPassword: 'v1.key.iv.tag.ct', now: t0,
  } as const;
  const added: HostEvent = {
    type: 'HostAdded',
    data: {
      hostId: 'h1', name: 'host-1', zoneId: 'z1', clusterId: 'c1', hypervisorType: 'Simulator', managementIp: '192.0.2.10', username: 'root',
      encryptedPassword: 'v1.key.iv.tag.ct', simulatedCapacity: { cpuCount: 8, memoryBytes: 16 * GiB }, addedAt: t0,
    },
  };
  const connected: HostEvent = { type: 'HostConnected', data: { hostId: 'h1', cpuCount: 8, memoryBytes: 16 * GiB, at: t0 + 1 } };
  const reserved = (vmId: string, cpuCount: number, memoryBytes: number): HostEvent =>
    ({ type: 'HostCapacityReserved', data: { hostId: 'h1', vmId, cpuCount, memoryBytes } });

  describe('adding', () => {
    it('adds a Simulator host with its simulated capacity; it is Disconnected until probed', () => {
      hosts.given().when({ ...addSimulator, simulatedCapacity: { cpuCount: 8, memoryBytes: 16 * GiB } }).then([added]);
      const state = fold(hostDecider, [added]);
      expect(state).toMatchObject({ state: 'Disconnected', enabled: true, maintenance: false, cpuTotal: 0, encryptedPassword: 'v1.key.iv.tag.ct' });
    });
    it('gives a Simulator host added without a capacity the default one', () => {
      const [event] = hostDecider.decide(addSimulator, hostDecider.initialState);
      expect(event).toMatchObject({ data: { simulatedCapacity: defaultSimulatedCapacity } });
      expect(defaultSimulatedCapacity).toEqual({ cpuCount: 64, memoryBytes: 256 * GiB });
    });
    it('adds a KVM host with a libvirt URI and no simulated capacity', () => {
      const [event] = hostDecider.decide({ ...addSimulator, hypervisorType: 'KVM', libvirtUri: 'qemu+ssh://root@192.0.2.10/system' }, hostDecider.initialState);
      expect(event!.data).toMatchObject({ hypervisorType: 'KVM', libvirtUri: 'qemu+ssh://root@192.0.2.10/system' });
      expect(event!.data).not.toHaveProperty('simulatedCapacity');
    });
    it('refuses a simulated capacity on a KVM host, or an invalid one', () => {
      hosts.given().when({ ...addSimulator, hypervisorType: 'KVM', simulatedCapacity: { cpuCount: 8, memoryBytes: GiB } }).thenFails('INVALID_SIMULATED_CAPACITY');
      hosts.given().when({ ...addSimulator, simulatedCapacity: { cpuCount: 0, memoryBytes: GiB } }).thenFails('INVALID_SIMULATED_CAPACITY');
    });
    it('refuses a bad management address, an empty name or user', () => {
      hosts.given().when({ ...addSimulator, managementIp: '300.1.1.1' }).thenFails('INVALID_HOST');
      hosts.given().when({ ...addSimulator, managementIp: 'not a host' }).thenFails('INVALID_HOST');
      hosts.given().when({ ...addSimulator, name: '' }).thenFails('INVALID_HOST');
      hosts.given().when({ ...addSimulator, username: ' ' }).thenFails('INVALID_HOST');
      hosts.given().when({ ...addSimulator, managementIp: 'kvm-01.example.org' }).then([expect.objectContaining({ type: 'HostAdded' }) as unknown as HostEvent]);
    });
    it('refuses to add the same host twice', () => {
      hosts.given(added).when(addSimulator).thenFails('HOST_EXISTS');
    });
    it('refuses any command on a host that does not exist', () => {
      hosts.given().when({ type: 'EnableHost', now: t0 }).thenFails('HOST_NOT_FOUND');
      hosts.given().when({ type: 'ReserveHostCapacity', vmId: 'vm1', cpuCount: 1, memoryBytes: GiB }).thenFails('HOST_NOT_FOUND');
    });
  });

  describe('probing', () => {
    it('connects a host with the probed capacity', () => {
      hosts.given(added).when({ type: 'RecordHostProbe', connected: true, cpuCount: 8, memoryBytes: 16 * GiB, now: t0 + 1 }).then([connected]);
      expect(fold(hostDecider, [added, connected])).toMatchObject({ state: 'Connected', cpuTotal: 8, memoryTotal: 16 * GiB });
    });
    it('records nothing when a connected host answers the same', () => {
      hosts.given(added, connected).when({ type: 'RecordHostProbe', connected: true, cpuCount: 8, memoryBytes: 16 * GiB, now: t0 + 2 }).then([]);
    });
    it('records a new capacity when the host answers a different one', () => {
      hosts.given(added, connected).when({ type: 'RecordHostProbe', connected: true, cpuCount: 16, memoryBytes: 16 * GiB, now: t0 + 2 })
        .then([{ type: 'HostConnected', data: { hostId: 'h1', cpuCount: 16, memoryBytes: 16 * GiB, at: t0 + 2 } }]);
    });
    it('disconnects a host that failed its probe, with the reason, once', () => {
      const down: HostEvent = { type: 'HostDisconnected', data: { hostId: 'h1', reason: 'connection refused', at: t0 + 2 } };
      hosts.given(added, connected).when({ type: 'RecordHostProbe', connected: false, cpuCount: 0, memoryBytes: 0, reason: 'connection refused', now: t0 + 2 }).then([down]);
      hosts.given(added, connected, down).when({ type: 'RecordHostProbe', connected: false, cpuCount: 0, memoryBytes: 0, reason: 'connection refused', now: t0 + 3 }).then([]);
      expect(fold(hostDecider, [added, connected, down])).toMatchObject({ state: 'Disconnected', disconnectReason: 'connection refused', cpuTotal: 8 });
    });
    it('gives a default reason to a failed probe without one', () => {
      hosts.given(added, connected).when({ type: 'RecordHostProbe', connected: false, cpuCount: 0, memoryBytes: 0, now: t0 + 2 })
        .then([{ type: 'HostDisconnected', data: { hostId: 'h1', reason: 'the host did not answer the probe', at: t0 + 2 } }]);
    });
  });

  describe('administration', () => {
    const disabled: HostEvent = { type: 'HostDisabled', data: { hostId: 'h1', at: t0 + 2 } };
    const inMaintenance: HostEvent = { type: 'HostMaintenanceEntered', data: { hostId: 'h1', at: t0 + 2 } };
    it('disables and enables a host, each only when it changes something', () => {
      hosts.given(added, connected).when({ type: 'DisableHost', now: t0 + 2 }).then([disabled]);
      hosts.given(added, connected, disabled).when({ type: 'DisableHost', now: t0 + 3 }).then([]);
      hosts.given(added, connected, disabled).when({ type: 'EnableHost', now: t0 + 3 }).then([{ type: 'HostEnabled', data: { hostId: 'h1', at: t0 + 3 } }]);
      hosts.given(added, connected).when({ type: 'EnableHost', now: t0 + 3 }).then([]);
    });
    it('enters and leaves maintenance, each only when it changes something', () => {
      hosts.given(added, connected).when({ type: 'EnterMaintenance', now: t0 + 2 }).then([inMaintenance]);
      hosts.given(added, connected, inMaintenance).when({ type: 'EnterMaintenance', now: t0 + 3 }).then([]);
      hosts.given(added, connected, inMaintenance).when({ type: 'ExitMaintenance', now: t0 + 3 }).then([{ type: 'HostMaintenanceExited', data: { hostId: 'h1', at: t0 + 3 } }]);
      hosts.given(added, connected).when({ type: 'ExitMaintenance', now: t0 + 3 }).then([]);
    });
    it('removes a host without VMs; a removed host is not found', () => {
      const removed: HostEvent = { type: 'HostRemoved', data: { hostId: 'h1', at: t0 + 2 } };
      hosts.given(added, connected).when({ type: 'RemoveHost', now: t0 + 2 }).then([removed]);
      hosts.given(added, connected, removed).when({ type: 'EnableHost', now: t0 + 3 }).thenFails('HOST_NOT_FOUND');
      hosts.given(added, connected, removed).when({ type: 'ReleaseHostCapacity', vmId: 'vm1' }).then([]);
    });
    it('refuses to remove a host that holds VMs', () => {
      hosts.given(added, connected, reserved('vm1', 1, GiB)).when({ type: 'RemoveHost', now: t0 + 2 }).thenFails('HOST_HAS_VMS');
    });
  });

  describe('capacity', () => {
    it('reserves capacity for a VM on a connected host', () => {
      hosts.given(added, connected).when({ type: 'ReserveHostCapacity', vmId: 'vm1', cpuCount: 2, memoryBytes: 4 * GiB }).then([reserved('vm1', 2, 4 * GiB)]);
      expect(fold(hostDecider, [added, connected, reserved('vm1', 2, 4 * GiB)])).toMatchObject({ cpuUsed: 2, memoryUsed: 4 * GiB });
    });
    it('is idempotent by VM id', () => {
      hosts.given(added, connected, reserved('vm1', 2, 4 * GiB)).when({ type: 'ReserveHostCapacity', vmId: 'vm1', cpuCount: 2, memoryBytes: 4 * GiB }).then([]);
    });
    it('fills a host exactly, and refuses one vCPU or one byte more', () => {
      hosts.given(added, connected).when({ type: 'ReserveHostCapacity', vmId: 'vm1', cpuCount: 8, memoryBytes: 16 * GiB }).then([reserved('vm1', 8, 16 * GiB)]);
      hosts.given(added, connected, reserved('vm1', 7, 16 * GiB)).when({ type: 'ReserveHostCapacity', vmId: 'vm2', cpuCount: 1, memoryBytes: 1 }).thenFails('HOST_CAPACITY_EXCEEDED');
      hosts.given(added, connected, reserved('vm1', 8, GiB)).when({ type: 'ReserveHostCapacity', vmId: 'vm2', cpuCount: 1, memoryBytes: 1 }).thenFails('HOST_CAPACITY_EXCEEDED');
    });
    it('refuses placements on a disconnected, disabled or maintenance host', () => {
      const ask = { type: 'ReserveHostCapacity', vmId: 'vm1', cpuCount: 1, memoryBytes: GiB } as const;
      hosts.given(added).when(ask).thenFails('HOST_NOT_AVAILABLE');
      hosts.given(added, connected, { type: 'HostDisabled', data: { hostId: 'h1', at: t0 } }).when(ask).thenFails('HOST_NOT_AVAILABLE');
      hosts.given(added, connected, { type: 'HostMaintenanceEntered', data: { hostId: 'h1', at: t0 } }).when(ask).thenFails('HOST_NOT_AVAILABLE');
      hosts.given(added, connected, { type: 'HostDisconnected', data: { hostId: 'h1', reason: 'down', at: t0 } }).when(ask).thenFails('HOST_NOT_AVAILABLE');
    });
    it('refuses a request that is not positive integers', () => {
      hosts.given(added, connected).when({ type: 'ReserveHostCapacity', vmId: 'vm1', cpuCount: 0, memoryBytes: GiB }).thenFails('INVALID_CAPACITY_REQUEST');
      hosts.given(added, connected).when({ type: 'ReserveHostCapacity', vmId: 'vm1', cpuCount: 1, memoryBytes: 1.5 }).thenFails('INVALID_CAPACITY_REQUEST');
    });
    it('releases what the VM held, once; the capacity is free again', () => {
      const released: HostEvent = { type: 'HostCapacityReleased', data: { hostId: 'h1', vmId: 'vm1', cpuCount: 2, memoryBytes: 4 * GiB } };
      hosts.given(added, connected, reserved('vm1', 2, 4 * GiB)).when({ type: 'ReleaseHostCapacity', vmId: 'vm1' }).then([released]);
      hosts.given(added, connected, reserved('vm1', 2, 4 * GiB), released).when({ type: 'ReleaseHostCapacity', vmId: 'vm1' }).then([]);
      const state = fold(hostDecider, [added, connected, reserved('vm1', 2, 4 * GiB), released]);
      expect(state).toMatchObject({ cpuUsed: 0, memoryUsed: 0 });
      expect(state.exists && state.reservations.size).toBe(0);
    });
    it('releases on a host that is no longer available (a VM leaving a host in maintenance)', () => {
      hosts.given(added, connected, reserved('vm1', 2, GiB), { type: 'HostMaintenanceEntered', data: { hostId: 'h1', at: t0 } })
        .when({ type: 'ReleaseHostCapacity', vmId: 'vm1' })
        .then([{ type: 'HostCapacityReleased', data: { hostId: 'h1', vmId: 'vm1', cpuCount: 2, memoryBytes: GiB } }]);
    });
  });
});

describe('placement', () => {
  const host = (hostId: string, overrides: Partial<HostCandidate> = {}): HostCandidate => ({
    hostId, zoneId: 'z1', clusterId: 'c1', state: 'Connected', enabled: true, maintenance: false,
    cpuTotal: 8, cpuUsed: 0, memoryTotal: 16 * GiB, memoryUsed: 0, ...overrides,
  });
  const ask = { cpuCount: 2, memoryBytes: 2 * GiB };

  it('prefers the least allocated host', () => {
    const ranked = rankHosts([host('a', { cpuUsed: 4 }), host('b', { cpuUsed: 2 }), host('c', { cpuUsed: 6, memoryUsed: 8 * GiB })], ask);
    expect(ranked.map((h) => h.hostId)).toEqual(['b', 'a', 'c']);
  });
  it('breaks ties by free memory, then by host id', () => {
    const ranked = rankHosts([host('b'), host('a'), host('c', { cpuTotal: 16, cpuUsed: 8, memoryTotal: 32 * GiB, memoryUsed: 16 * GiB })], { cpuCount: 1, memoryBytes: 1 });
    expect(allocation(host('c', { cpuTotal: 16, cpuUsed: 8, memoryTotal: 32 * GiB, memoryUsed: 16 * GiB }))).toBe(0.5);
    expect(ranked.map((h) => h.hostId)).toEqual(['a', 'b', 'c']);
  });
  it('leaves out hosts without enough free CPU or memory', () => {
    const ranked = rankHosts([host('a', { cpuUsed: 7 }), host('b', { memoryUsed: 15 * GiB }), host('c')], ask);
    expect(ranked.map((h) => h.hostId)).toEqual(['c']);
  });
  it('leaves out disconnected, disabled and maintenance hosts', () => {
    const ranked = rankHosts([host('a', { state: 'Disconnected' }), host('b', { enabled: false }), host('c', { maintenance: true }), host('d')], ask);
    expect(ranked.map((h) => h.hostId)).toEqual(['d']);
  });
  it('filters by zone, cluster and host', () => {
    const candidates = [host('a'), host('b', { zoneId: 'z2', clusterId: 'c2' }), host('c', { clusterId: 'c3' })];
    expect(rankHosts(candidates, { ...ask, zoneId: 'z2' }).map((h) => h.hostId)).toEqual(['b']);
    expect(rankHosts(candidates, { ...ask, clusterId: 'c3' }).map((h) => h.hostId)).toEqual(['c']);
    expect(rankHosts(candidates, { ...ask, hostId: 'a' }).map((h) => h.hostId)).toEqual(['a']);
    expect(rankHosts(candidates, { ...ask, zoneId: 'z1', hostId: 'b' })).toEqual([]);
  });
});

describe('primary storage decider', () => {
  const storages = scenario(primaryStorageDecider);
  const added: PrimaryStorageEvent = {
    type: 'PrimaryStorageAdded',
    data: { primaryStorageId: 'ps1', zoneId: 'z1', name: 'local', description: '', type: 'LocalStorage', url: '/var/lib/stratus', totalCapacityBytes: 100, addedAt: t0 },
  };
  const reserved: PrimaryStorageEvent = { type: 'PrimaryStorageCapacityReserved', data: { primaryStorageId: 'ps1', volumeId: 'v1', sizeBytes: 60 } };

  it('adds a primary storage', () => {
    storages.given().when({ type: 'AddPrimaryStorage', primaryStorageId: 'ps1', zoneId: 'z1', name: 'local', storageType: 'LocalStorage', url: '/var/lib/stratus', totalCapacityBytes: 100, now: t0 })
      .then([added]);
  });
  it('refuses a duplicate, and invalid fields', () => {
    const add = { type: 'AddPrimaryStorage', primaryStorageId: 'ps1', zoneId: 'z1', name: 'local', storageType: 'LocalStorage', url: '/x', totalCapacityBytes: 100, now: t0 } as const;
    storages.given(added).when(add).thenFails('PRIMARY_STORAGE_EXISTS');
    storages.given().when({ ...add, totalCapacityBytes: 0 }).thenFails('INVALID_PRIMARY_STORAGE');
    storages.given().when({ ...add, url: '' }).thenFails('INVALID_PRIMARY_STORAGE');
  });
  it('reserves for a volume, idempotently, and refuses beyond capacity', () => {
    storages.given(added).when({ type: 'ReservePrimaryStorage', volumeId: 'v1', sizeBytes: 60 }).then([reserved]);
    storages.given(added, reserved).when({ type: 'ReservePrimaryStorage', volumeId: 'v1', sizeBytes: 60 }).then([]);
    storages.given(added, reserved).when({ type: 'ReservePrimaryStorage', volumeId: 'v2', sizeBytes: 41 }).thenFails('PRIMARY_STORAGE_CAPACITY_EXCEEDED');
    storages.given(added, reserved).when({ type: 'ReservePrimaryStorage', volumeId: 'v2', sizeBytes: 40 })
      .then([{ type: 'PrimaryStorageCapacityReserved', data: { primaryStorageId: 'ps1', volumeId: 'v2', sizeBytes: 40 } }]);
    storages.given(added).when({ type: 'ReservePrimaryStorage', volumeId: 'v1', sizeBytes: -1 }).thenFails('INVALID_CAPACITY_REQUEST');
    storages.given().when({ type: 'ReservePrimaryStorage', volumeId: 'v1', sizeBytes: 1 }).thenFails('PRIMARY_STORAGE_NOT_FOUND');
  });
  it('releases a volume\'s bytes, once', () => {
    const released: PrimaryStorageEvent = { type: 'PrimaryStorageCapacityReleased', data: { primaryStorageId: 'ps1', volumeId: 'v1', sizeBytes: 60 } };
    storages.given(added, reserved).when({ type: 'ReleasePrimaryStorage', volumeId: 'v1' }).then([released]);
    storages.given(added, reserved, released).when({ type: 'ReleasePrimaryStorage', volumeId: 'v1' }).then([]);
    expect(fold(primaryStorageDecider, [added, reserved, released])).toMatchObject({ usedBytes: 0 });
  });
});

describe('image store decider', () => {
  const stores = scenario(imageStoreDecider);
  it('adds an image store once, with a name and a URL', () => {
    const add = { type: 'AddImageStore', imageStoreId: 'is1', zoneId: 'z1', name: 'store', url: 'sftp://192.0.2.5/images', now: t0 } as const;
    const added = {
      type: 'ImageStoreAdded' as const,
      data: { imageStoreId: 'is1', zoneId: 'z1', name: 'store', description: '', url: 'sftp://192.0.2.5/images', totalCapacityBytes: null, addedAt: t0 },
    };
    stores.given().when(add).then([added]);
    stores.given(added).when(add).thenFails('IMAGE_STORE_EXISTS');
    stores.given().when({ ...add, url: ' ' }).thenFails('INVALID_IMAGE_STORE');
    stores.given().when({ ...add, totalCapacityBytes: 0 }).thenFails('INVALID_IMAGE_STORE');
  });
});

describe('image decider', () => {
  const images = scenario(imageDecider);
  const sha256 = 'a'.repeat(64);
  const register = {
    type: 'RegisterImage', imageId: 'i1', name: 'ubuntu', url: 'https://example.org/ubuntu.qcow2', format: 'qcow2', platform: 'Linux',
    sha256, sizeBytes: 1024, now: t0,
  } as const;
  const registered: ImageEvent = {
    type: 'ImageRegistered',
    data: {
      imageId: 'i1', name: 'ubuntu', description: '', url: 'https://example.org/ubuntu.qcow2', format: 'qcow2', platform: 'Linux', sha256, sizeBytes: 1024,
      imageStoreId: null, registeredAt: t0,
    },
  };
  const deleted = (policy: 'Direct' | 'Delay' | 'Never', expungeAt: number | null): ImageEvent => ({ type: 'ImageDeleted', data: { imageId: 'i1', policy, expungeAt, at: t0 + 10 } });

  it('registers an image from a URL or an absolute path; it is Ready', () => {
    images.given().when(register).then([registered]);
    images.given().when({ ...register, url: '/srv/images/win.iso', format: 'iso', platform: 'Windows' })
      .then([{ type: 'ImageRegistered', data: { ...registered.data, url: '/srv/images/win.iso', format: 'iso', platform: 'Windows' } } as ImageEvent]);
    expect(fold(imageDecider, [registered])).toMatchObject({ state: 'Ready' });
  });
  it('refuses a bad URL, format, platform, checksum or size, and a second registration', () => {
    images.given().when({ ...register, url: 'relative/path.qcow2' }).thenFails('INVALID_IMAGE');
    images.given().when({ ...register, url: 'gopher://x/y' }).thenFails('INVALID_IMAGE');
    images.given().when({ ...register, format: 'vmdk' as 'raw' }).thenFails('INVALID_IMAGE');
    images.given().when({ ...register, platform: 'Plan9' as 'Linux' }).thenFails('INVALID_IMAGE');
    images.given().when({ ...register, sha256: 'abc' }).thenFails('INVALID_IMAGE');
    images.given().when({ ...register, sizeBytes: 0 }).thenFails('INVALID_IMAGE');
    images.given(registered).when(register).thenFails('IMAGE_EXISTS');
  });
  it('marks an image Error with its reason (a copy failed verification), once per reason', () => {
    const error: ImageEvent = { type: 'ImageMarkedError', data: { imageId: 'i1', reason: 'sha256 mismatch', at: t0 + 1 } };
    images.given(registered).when({ type: 'MarkImageError', reason: 'sha256 mismatch', now: t0 + 1 }).then([error]);
    images.given(registered, error).when({ type: 'MarkImageError', reason: 'sha256 mismatch', now: t0 + 2 }).then([]);
    expect(fold(imageDecider, [registered, error])).toMatchObject({ state: 'Error', reason: 'sha256 mismatch' });
  });
  it('deletes under each policy: Delay sets the expunge time from the period, Never sets none, Direct is due at once', () => {
    images.given(registered).when({ type: 'DeleteImage', policy: 'Delay', expungePeriodSeconds: 60, now: t0 + 10 }).then([deleted('Delay', t0 + 10 + 60_000)]);
    images.given(registered).when({ type: 'DeleteImage', policy: 'Never', expungePeriodSeconds: 60, now: t0 + 10 }).then([deleted('Never', null)]);
    images.given(registered).when({ type: 'DeleteImage', policy: 'Direct', expungePeriodSeconds: 60, now: t0 + 10 }).then([deleted('Direct', t0 + 10)]);
    expect(fold(imageDecider, [registered, deleted('Delay', t0 + 60_010)])).toMatchObject({ state: 'Destroyed', deletedAt: t0 + 10, expungeAt: t0 + 60_010 });
  });
  it('keeps the first deletion\'s clock when deleted again', () => {
    images.given(registered, deleted('Delay', t0 + 60_010)).when({ type: 'DeleteImage', policy: 'Delay', expungePeriodSeconds: 60, now: t0 + 50 }).then([]);
  });
  it('recovers a destroyed image to what it was (Ready or Error)', () => {
    const recovered: ImageEvent = { type: 'ImageRecovered', data: { imageId: 'i1', at: t0 + 20 } };
    images.given(registered, deleted('Delay', 1)).when({ type: 'RecoverImage', now: t0 + 20 }).then([recovered]);
    expect(fold(imageDecider, [registered, deleted('Delay', 1), recovered])).toMatchObject({ state: 'Ready' });
    const error: ImageEvent = { type: 'ImageMarkedError', data: { imageId: 'i1', reason: 'bad', at: t0 } };
    expect(fold(imageDecider, [registered, error, deleted('Delay', 1), recovered])).toMatchObject({ state: 'Error' });
  });
  it('refuses to recover an image that is not destroyed, and to mark a destroyed one', () => {
    images.given(registered).when({ type: 'RecoverImage', now: t0 }).thenFails('IMAGE_NOT_DESTROYED');
    images.given(registered, deleted('Never', null)).when({ type: 'MarkImageError', reason: 'x', now: t0 }).thenFails('IMAGE_DESTROYED');
  });
  it('expunges a destroyed image; expunging again is a no-op; then it is gone', () => {
    const expunged: ImageEvent = { type: 'ImageExpunged', data: { imageId: 'i1', at: t0 + 30 } };
    images.given(registered, deleted('Never', null)).when({ type: 'ExpungeImage', now: t0 + 30 }).then([expunged]);
    images.given(registered, deleted('Never', null), expunged).when({ type: 'ExpungeImage', now: t0 + 31 }).then([]);
    images.given(registered, deleted('Never', null), expunged).when({ type: 'RecoverImage', now: t0 + 31 }).thenFails('IMAGE_NOT_FOUND');
    images.given(registered, deleted('Never', null), expunged).when({ type: 'DeleteImage', policy: 'Delay', expungePeriodSeconds: 1, now: t0 + 31 }).thenFails('IMAGE_NOT_FOUND');
  });
  it('refuses to expunge an image that is not destroyed, or does not exist', () => {
    images.given(registered).when({ type: 'ExpungeImage', now: t0 }).thenFails('IMAGE_NOT_DESTROYED');
    images.given().when({ type: 'ExpungeImage', now: t0 }).thenFails('IMAGE_NOT_FOUND');
    images.given().when({ type: 'MarkImageError', reason: 'x', now: t0 }).thenFails('IMAGE_NOT_FOUND');
  });
});

describe('offering deciders', () => {
  const instanceOfferings = scenario(instanceOfferingDecider);
  const diskOfferings = scenario(diskOfferingDecider);
  const instanceCreated: InstanceOfferingEvent = {
    type: 'InstanceOfferingCreated', data: { instanceOfferingId: 'o1', name: 'small', description: '', cpuCount: 1, memoryBytes: GiB, createdAt: t0 },
  };
  const diskCreated: DiskOfferingEvent = { type: 'DiskOfferingCreated', data: { diskOfferingId: 'd1', name: '10G', description: '', sizeBytes: 10 * GiB, createdAt: t0 } };

  it('creates an instance offering and refuses a duplicate or non-positive sizes', () => {
    const create = { type: 'CreateInstanceOffering', instanceOfferingId: 'o1', name: 'small', cpuCount: 1, memoryBytes: GiB, now: t0 } as const;
    instanceOfferings.given().when(create).then([instanceCreated]);
    instanceOfferings.given(instanceCreated).when(create).thenFails('INSTANCE_OFFERING_EXISTS');
    instanceOfferings.given().when({ ...create, cpuCount: 0 }).thenFails('INVALID_INSTANCE_OFFERING');
    instanceOfferings.given().when({ ...create, memoryBytes: -1 }).thenFails('INVALID_INSTANCE_OFFERING');
  });
  it('deletes an instance offering once', () => {
    const deleted: InstanceOfferingEvent = { type: 'InstanceOfferingDeleted', data: { instanceOfferingId: 'o1', at: t0 + 1 } };
    instanceOfferings.given(instanceCreated).when({ type: 'DeleteInstanceOffering', now: t0 + 1 }).then([deleted]);
    instanceOfferings.given(instanceCreated, deleted).when({ type: 'DeleteInstanceOffering', now: t0 + 2 }).then([]);
    instanceOfferings.given().when({ type: 'DeleteInstanceOffering', now: t0 }).thenFails('INSTANCE_OFFERING_NOT_FOUND');
  });
  it('creates and deletes a disk offering', () => {
    const create = { type: 'CreateDiskOffering', diskOfferingId: 'd1', name: '10G', sizeBytes: 10 * GiB, now: t0 } as const;
    diskOfferings.given().when(create).then([diskCreated]);
    diskOfferings.given(diskCreated).when(create).thenFails('DISK_OFFERING_EXISTS');
    diskOfferings.given().when({ ...create, sizeBytes: 0 }).thenFails('INVALID_DISK_OFFERING');
    const deleted: DiskOfferingEvent = { type: 'DiskOfferingDeleted', data: { diskOfferingId: 'd1', at: t0 + 1 } };
    diskOfferings.given(diskCreated).when({ type: 'DeleteDiskOffering', now: t0 + 1 }).then([deleted]);
    diskOfferings.given(diskCreated, deleted).when({ type: 'DeleteDiskOffering', now: t0 + 1 }).then([]);
    diskOfferings.given().when({ type: 'DeleteDiskOffering', now: t0 }).thenFails('DISK_OFFERING_NOT_FOUND');
  });
});

describe('immutable map (the state of hosts, storages and IP pools)', () => {
  it('leaves earlier versions unchanged by set and delete', () => {
    const empty = ImmutableMap.empty<number>();
    const one = empty.set('a', 1);
    const two = one.set('b', 2);
    const changed = two.set('a', 10);
    const removed = changed.delete('b');
    expect([empty.size, one.size, two.size, changed.size, removed.size]).toEqual([0, 1, 2, 2, 1]);
    expect(one.toObject()).toEqual({ a: 1 });
    expect(two.toObject()).toEqual({ a: 1, b: 2 });
    expect(changed.toObject()).toEqual({ a: 10, b: 2 });
    expect(removed.toObject()).toEqual({ a: 10 });
    expect(removed.delete('nope')).toBe(removed);
  });
  it('holds many keys', () => {
    let map = ImmutableMap.empty<number>();
    for (let index = 0; index < 5000; index++) map = map.set(`key-${index}`, index);
    for (let index = 0; index < 5000; index += 2) map = map.delete(`key-${index}`);
    expect(map.size).toBe(2500);
    expect(map.get('key-4999')).toBe(4999);
    expect(map.has('key-4998')).toBe(false);
    expect([...map.values()].reduce((sum, value) => sum + value, 0)).toBe(Array.from({ length: 2500 }, (_, i) => 2 * i + 1).reduce((a, b) => a + b, 0));
    expect(ImmutableMap.from(map.entries()).toObject()).toEqual(map.toObject());
  });
});
