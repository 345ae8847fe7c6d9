import { describe, expect, it } from 'vitest';
import { broadcastOf, ipToNumber, isIpv4, networkOf, numberToIp, prefixLength } from '../../../domain/network/ipv4.js';
import { l2NetworkDecider } from '../../../domain/network/l2-network.js';
import { ipUsage, l3NetworkDecider, type L3NetworkCommand, type L3NetworkEvent } from '../../../domain/network/l3-network.js';
import { macDecider, macPattern, type MacEvent } from '../../../domain/network/mac.js';
import { fold } from '../../../domain/shared/decider.js';
import { scenario } from '../../support/given-when-then.js';

const t0 = Date.UTC(2026, 0, 1);

describe('IPv4 arithmetic', () => {
  it('converts, masks and validates', () => {
    expect(ipToNumber('10.0.1.2')).toBe(0x0a000102);
    expect(numberToIp(0xc0a80001)).toBe('192.168.0.1');
    expect(isIpv4('192.168.0.1')).toBe(true);
    expect(isIpv4('192.168.0.256')).toBe(false);
    expect(isIpv4('01.2.3.4')).toBe(false);
    expect(prefixLength('255.255.255.0')).toBe(24);
    expect(prefixLength('255.255.0.255')).toBeUndefined();
    expect(prefixLength('255.255.255.255')).toBe(32);
    expect(numberToIp(networkOf(ipToNumber('10.1.2.3'), 16))).toBe('10.1.0.0');
    expect(numberToIp(broadcastOf(ipToNumber('10.1.2.3'), 16))).toBe('10.1.255.255');
  });
});

describe('L2 network decider', () => {
  const l2 = scenario(l2NetworkDecider);
  const create = { type: 'CreateL2Network', l2NetworkId: 'l2', zoneId: 'z1', name: 'flat', physicalInterface: 'eth0', now: t0 } as const;
  const created = {
    type: 'L2NetworkCreated' as const,
    data: { l2NetworkId: 'l2', zoneId: 'z1', name: 'flat', description: '', type: 'Flat' as const, physicalInterface: 'eth0', vlan: null, createdAt: t0 },
  };
  it('creates a flat L2 network on a physical interface, or a VLAN one', () => {
    l2.given().when(create).then([created]);
    l2.given().when({ ...create, vlan: 100 }).then([{ type: 'L2NetworkCreated', data: { ...created.data, type: 'Vlan', vlan: 100 } }]);
  });
  it('refuses a duplicate, a bad interface name or VLAN id', () => {
    l2.given(created).when(create).thenFails('L2_NETWORK_EXISTS');
    l2.given().when({ ...create, physicalInterface: 'eth0 with spaces' }).thenFails('INVALID_L2_NETWORK');
    l2.given().when({ ...create, physicalInterface: 'a-name-far-too-long' }).thenFails('INVALID_L2_NETWORK');
    l2.given().when({ ...create, vlan: 4095 }).thenFails('INVALID_L2_NETWORK');
  });
});

describe('L3 network decider', () => {
  const l3 = scenario(l3NetworkDecider);
  const created: L3NetworkEvent = { type: 'L3NetworkCreated', data: { l3NetworkId: 'n1', name: 'private', l2NetworkId: 'l2', zoneId: 'z1', description: '', createdAt: t0 } };
  const addRange: Extract<L3NetworkCommand, { type: 'AddIpRange' }> = {
    type: 'AddIpRange', ipRangeId: 'r1', startIp: '10.0.0.10', endIp: '10.0.0.12', gateway: '10.0.0.1', netmask: '255.255.255.0', dns: ['10.0.0.2'],
  };
  const rangeAdded: L3NetworkEvent = {
    type: 'IpRangeAdded',
    data: { l3NetworkId: 'n1', ipRangeId: 'r1', name: '10.0.0.10-10.0.0.12', startIp: '10.0.0.10', endIp: '10.0.0.12', gateway: '10.0.0.1', netmask: '255.255.255.0', dns: ['10.0.0.2'], size: 3 },
  };
  const allocated = (nicId: string, ip: string, mac: string): L3NetworkEvent =>
    ({ type: 'IpAllocated', data: { l3NetworkId: 'n1', nicId, ip, mac, gateway: '10.0.0.1', netmask: '255.255.255.0', ipRangeId: 'r1' } });

  describe('creation', () => {
    it('creates an L3 network on an L2 network', () => {
      l3.given().when({ type: 'CreateL3Network', l3NetworkId: 'n1', name: 'private', l2NetworkId: 'l2', zoneId: 'z1', now: t0 }).then([created]);
      l3.given(created).when({ type: 'CreateL3Network', l3NetworkId: 'n1', name: 'private', l2NetworkId: 'l2', zoneId: 'z1', now: t0 }).thenFails('L3_NETWORK_EXISTS');
    });
    it('refuses commands on a network that does not exist', () => {
      l3.given().when(addRange).thenFails('L3_NETWORK_NOT_FOUND');
      l3.given().when({ type: 'AllocateIp', nicId: 'nic1', mac: 'fa:00:00:00:00:01' }).thenFails('L3_NETWORK_NOT_FOUND');
    });
  });

  describe('IP ranges', () => {
    it('adds a range inside the gateway\'s subnet', () => {
      l3.given(created).when(addRange).then([rangeAdded]);
      expect(ipUsage(fold(l3NetworkDecider, [created, rangeAdded]) as never)).toEqual({ ipTotal: 3, ipUsed: 0 });
    });
    it('refuses malformed addresses and a non-contiguous netmask', () => {
      l3.given(created).when({ ...addRange, startIp: '10.0.0' }).thenFails('INVALID_IP_RANGE');
      l3.given(created).when({ ...addRange, netmask: '255.0.255.0' }).thenFails('INVALID_IP_RANGE');
      l3.given(created).when({ ...addRange, dns: ['dns.example.org'] }).thenFails('INVALID_IP_RANGE');
    });
    it('refuses start after end', () => {
      l3.given(created).when({ ...addRange, startIp: '10.0.0.20', endIp: '10.0.0.10' }).thenFails('INVALID_IP_RANGE');
    });
    it('refuses addresses outside the netmask, the network and broadcast addresses, and a gateway inside the range', () => {
      l3.given(created).when({ ...addRange, endIp: '10.0.1.5' }).thenFails('INVALID_IP_RANGE');
      l3.given(created).when({ ...addRange, gateway: '10.0.1.1' }).thenFails('INVALID_IP_RANGE');
      l3.given(created).when({ ...addRange, startIp: '10.0.0.0' }).thenFails('INVALID_IP_RANGE');
      l3.given(created).when({ ...addRange, endIp: '10.0.0.255' }).thenFails('INVALID_IP_RANGE');
      l3.given(created).when({ ...addRange, gateway: '10.0.0.11' }).thenFails('INVALID_IP_RANGE');
    });
    it('lists every problem of a range with its field', () => {
      try {
        l3NetworkDecider.decide({ ...addRange, startIp: '10.0.0.0', gateway: '10.0.0.5', endIp: '10.0.0.20' }, fold(l3NetworkDecider, [created]));
        expect.unreachable();
      } catch (error) {
        expect((error as { details: { fields: Array<{ field: string }> } }).details.fields.map((f) => f.field)).toEqual(['startIp', 'gateway']);
      }
    });
    it('refuses overlapping ranges, and a range of another subnet', () => {
      l3.given(created, rangeAdded).when({ ...addRange, ipRangeId: 'r2', startIp: '10.0.0.12', endIp: '10.0.0.20' }).thenFails('IP_RANGE_OVERLAPS');
      l3.given(created, rangeAdded).when({ ...addRange, ipRangeId: 'r2', startIp: '10.0.0.2', endIp: '10.0.0.30' }).thenFails('IP_RANGE_OVERLAPS');
      l3.given(created, rangeAdded).when({ ...addRange, ipRangeId: 'r2', startIp: '10.0.0.13', endIp: '10.0.0.20', gateway: '10.0.0.254' }).thenFails('IP_RANGE_SUBNET_MISMATCH');
      l3.given(created, rangeAdded).when({ ...addRange, ipRangeId: 'r2', startIp: '10.0.0.13', endIp: '10.0.0.20' })
        .then([{ type: 'IpRangeAdded', data: { ...(rangeAdded.data as object), ipRangeId: 'r2', name: '10.0.0.13-10.0.0.20', startIp: '10.0.0.13', endIp: '10.0.0.20', size: 8 } } as L3NetworkEvent]);
      l3.given(created, rangeAdded).when(addRange).thenFails('IP_RANGE_EXISTS');
    });
    it('removes an unused range, and refuses one with allocated addresses', () => {
      l3.given(created, rangeAdded).when({ type: 'RemoveIpRange', ipRangeId: 'r1' }).then([{ type: 'IpRangeRemoved', data: { l3NetworkId: 'n1', ipRangeId: 'r1' } }]);
      l3.given(created, rangeAdded, allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01')).when({ type: 'RemoveIpRange', ipRangeId: 'r1' }).thenFails('IP_RANGE_IN_USE');
      l3.given(created, rangeAdded).when({ type: 'RemoveIpRange', ipRangeId: 'nope' }).thenFails('IP_RANGE_NOT_FOUND');
    });
  });

  describe('allocation', () => {
    it('allocates the next free address with the MAC it is given, and the range\'s gateway and netmask', () => {
      l3.given(created, rangeAdded).when({ type: 'AllocateIp', nicId: 'nic1', mac: 'fa:00:00:00:00:01' }).then([allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01')]);
      l3.given(created, rangeAdded, allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01'))
        .when({ type: 'AllocateIp', nicId: 'nic2', mac: 'fa:00:00:00:00:02' }).then([allocated('nic2', '10.0.0.11', 'fa:00:00:00:00:02')]);
    });
    it('is idempotent by NIC', () => {
      l3.given(created, rangeAdded, allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01')).when({ type: 'AllocateIp', nicId: 'nic1', mac: 'fa:00:00:00:00:09' }).then([]);
    });
    it('gives a requested address when it is free and in a range', () => {
      l3.given(created, rangeAdded).when({ type: 'AllocateIp', nicId: 'nic1', ip: '10.0.0.12', mac: 'fa:00:00:00:00:01' }).then([allocated('nic1', '10.0.0.12', 'fa:00:00:00:00:01')]);
    });
    it('refuses a requested address that is taken, outside every range, or not an address', () => {
      const given = l3.given(created, rangeAdded, allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01'));
      given.when({ type: 'AllocateIp', nicId: 'nic2', ip: '10.0.0.10', mac: 'fa:00:00:00:00:02' }).thenFails('IP_NOT_AVAILABLE');
      given.when({ type: 'AllocateIp', nicId: 'nic2', ip: '10.0.0.1', mac: 'fa:00:00:00:00:02' }).thenFails('IP_NOT_AVAILABLE');
      given.when({ type: 'AllocateIp', nicId: 'nic2', ip: '10.0.0.99', mac: 'fa:00:00:00:00:02' }).thenFails('IP_NOT_AVAILABLE');
      given.when({ type: 'AllocateIp', nicId: 'nic2', ip: 'ten', mac: 'fa:00:00:00:00:02' }).thenFails('INVALID_IP');
    });
    it('refuses a MAC already used on the network', () => {
      l3.given(created, rangeAdded, allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01')).when({ type: 'AllocateIp', nicId: 'nic2', mac: 'fa:00:00:00:00:01' }).thenFails('MAC_IN_USE');
    });
    it('refuses when the pool is exhausted, or there is no range', () => {
      l3.given(created, rangeAdded, allocated('a', '10.0.0.10', 'fa:00:00:00:00:01'), allocated('b', '10.0.0.11', 'fa:00:00:00:00:02'), allocated('c', '10.0.0.12', 'fa:00:00:00:00:03'))
        .when({ type: 'AllocateIp', nicId: 'd', mac: 'fa:00:00:00:00:04' }).thenFails('IP_POOL_EXHAUSTED');
      l3.given(created).when({ type: 'AllocateIp', nicId: 'd', mac: 'fa:00:00:00:00:04' }).thenFails('IP_POOL_EXHAUSTED');
    });
    it('releases a NIC\'s address and MAC once; both are free again', () => {
      const released: L3NetworkEvent = { type: 'IpReleased', data: { l3NetworkId: 'n1', nicId: 'nic1', ip: '10.0.0.10', mac: 'fa:00:00:00:00:01', ipRangeId: 'r1' } };
      const given = [created, rangeAdded, allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01')];
      l3.given(...given).when({ type: 'ReleaseIp', nicId: 'nic1' }).then([released]);
      l3.given(...given, released).when({ type: 'ReleaseIp', nicId: 'nic1' }).then([]);
      l3.given(...given, released).when({ type: 'AllocateIp', nicId: 'nic2', ip: '10.0.0.10', mac: 'fa:00:00:00:00:01' }).then([allocated('nic2', '10.0.0.10', 'fa:00:00:00:00:01')]);
      expect(ipUsage(fold(l3NetworkDecider, [...given, released]) as never)).toEqual({ ipTotal: 3, ipUsed: 0 });
    });
    it('hands out addresses after the last one given, wrapping around, so a released address is not reused at once', () => {
      const released: L3NetworkEvent = { type: 'IpReleased', data: { l3NetworkId: 'n1', nicId: 'a', ip: '10.0.0.10', mac: 'fa:00:00:00:00:01', ipRangeId: 'r1' } };
      const given = [created, rangeAdded, allocated('a', '10.0.0.10', 'fa:00:00:00:00:01'), allocated('b', '10.0.0.11', 'fa:00:00:00:00:02')];
      l3.given(...given, released).when({ type: 'AllocateIp', nicId: 'c', mac: 'fa:00:00:00:00:03' }).then([allocated('c', '10.0.0.12', 'fa:00:00:00:00:03')]);
      l3.given(...given, released, allocated('c', '10.0.0.12', 'fa:00:00:00:00:03'))
        .when({ type: 'AllocateIp', nicId: 'd', mac: 'fa:00:00:00:00:04' }).then([allocated('d', '10.0.0.10', 'fa:00:00:00:00:04')]);
    });
    it('walks across ranges in address order', () => {
      const second: L3NetworkEvent = { type: 'IpRangeAdded', data: { ...(rangeAdded.data as object), ipRangeId: 'r0', name: 'low', startIp: '10.0.0.2', endIp: '10.0.0.3', size: 2 } as never };
      const low = (nicId: string, ip: string, mac: string): L3NetworkEvent =>
        ({ type: 'IpAllocated', data: { l3NetworkId: 'n1', nicId, ip, mac, gateway: '10.0.0.1', netmask: '255.255.255.0', ipRangeId: 'r0' } });
      l3.given(created, rangeAdded, second).when({ type: 'AllocateIp', nicId: 'a', mac: 'fa:00:00:00:00:01' }).then([low('a', '10.0.0.2', 'fa:00:00:00:00:01')]);
      l3.given(created, rangeAdded, second, low('a', '10.0.0.2', 'fa:00:00:00:00:01'), low('b', '10.0.0.3', 'fa:00:00:00:00:02'))
        .when({ type: 'AllocateIp', nicId: 'c', mac: 'fa:00:00:00:00:03' }).then([allocated('c', '10.0.0.10', 'fa:00:00:00:00:03')]);
    });
  });

  describe('deletion', () => {
    const deleted: L3NetworkEvent = { type: 'L3NetworkDeleted', data: { l3NetworkId: 'n1', at: t0 + 1 } };
    it('deletes a network whose addresses are free; releasing on it afterwards is a no-op', () => {
      l3.given(created, rangeAdded).when({ type: 'DeleteL3Network', now: t0 + 1 }).then([deleted]);
      l3.given(created, rangeAdded, deleted).when({ type: 'ReleaseIp', nicId: 'nic1' }).then([]);
      l3.given(created, rangeAdded, deleted).when({ type: 'AllocateIp', nicId: 'nic1', mac: 'fa:00:00:00:00:01' }).thenFails('L3_NETWORK_NOT_FOUND');
    });
    it('refuses to delete a network with allocated addresses', () => {
      l3.given(created, rangeAdded, allocated('nic1', '10.0.0.10', 'fa:00:00:00:00:01')).when({ type: 'DeleteL3Network', now: t0 + 1 }).thenFails('L3_NETWORK_IN_USE');
    });
  });
});

describe('MAC reservation decider', () => {
  const macs = scenario(macDecider);
  const mac = 'fa:16:3e:00:00:01';
  const reserved: MacEvent = { type: 'MacReserved', data: { mac, nicId: 'nic1', l3NetworkId: 'n1' } };
  const released: MacEvent = { type: 'MacReleased', data: { mac, nicId: 'nic1' } };

  it('reserves a free MAC for a NIC, idempotently', () => {
    macs.given().when({ type: 'ReserveMac', mac, nicId: 'nic1', l3NetworkId: 'n1' }).then([reserved]);
    macs.given(reserved).when({ type: 'ReserveMac', mac, nicId: 'nic1', l3NetworkId: 'n1' }).then([]);
  });
  it('refuses a MAC another NIC holds, and a MAC that is not locally administered unicast', () => {
    macs.given(reserved).when({ type: 'ReserveMac', mac, nicId: 'nic2', l3NetworkId: 'n2' }).thenFails('MAC_IN_USE');
    macs.given().when({ type: 'ReserveMac', mac: '00:16:3e:00:00:01', nicId: 'nic1', l3NetworkId: 'n1' }).thenFails('INVALID_MAC');
    macs.given().when({ type: 'ReserveMac', mac: 'fb:16:3e:00:00:01', nicId: 'nic1', l3NetworkId: 'n1' }).thenFails('INVALID_MAC');
    expect(macPattern.test('fa:16:3e:00:00:01')).toBe(true);
  });
  it('releases only the holder\'s reservation; a released MAC can be reserved again', () => {
    macs.given(reserved).when({ type: 'ReleaseMac', mac, nicId: 'nic2' }).then([]);
    macs.given(reserved).when({ type: 'ReleaseMac', mac, nicId: 'nic1' }).then([released]);
    macs.given(reserved, released).when({ type: 'ReleaseMac', mac, nicId: 'nic1' }).then([]);
    macs.given(reserved, released).when({ type: 'ReserveMac', mac, nicId: 'nic2', l3NetworkId: 'n1' })
      .then([{ type: 'MacReserved', data: { mac, nicId: 'nic2', l3NetworkId: 'n1' } }]);
  });
});
