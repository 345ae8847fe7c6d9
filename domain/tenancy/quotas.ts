// Project quotas (FACTS.md "Quotas"; reference/002 Project). Limits are whole numbers: counts,
// or bytes for memory and volume capacity. Usage is what the project's reservations hold.

export const quotaNames = [
  'vm.num', 'vm.runningNum', 'vm.cpuNum', 'vm.memorySize',
  'volume.data.num', 'volume.capacity', 'snapshot.volume.num', 'image.num',
  'l3.num', 'securityGroup.num', 'vip.num', 'eip.num', 'portForwarding.num', 'loadBalancer.num',
] as const;
export type QuotaName = (typeof quotaNames)[number];
export type Quotas = Record<QuotaName, number>;

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

/**
 * Defaults of FACTS.md. Running VMs and images are not given there: running VMs default to
 * the VM count (a limit that never binds first) and images to 20 like the network resources.
 */
export const defaultQuotas: Quotas = {
  'vm.num': 20,
  'vm.runningNum': 20,
  'vm.cpuNum': 80,
  'vm.memorySize': 80 * GiB,
  'volume.data.num': 40,
  'volume.capacity': 10 * TiB,
  'snapshot.volume.num': 200,
  'image.num': 20,
  'l3.num': 20,
  'securityGroup.num': 20,
  'vip.num': 20,
  'eip.num': 20,
  'portForwarding.num': 20,
  'loadBalancer.num': 20,
};

export const isQuotaName = (name: string): name is QuotaName => (quotaNames as readonly string[]).includes(name);

export type QuotaAmounts = Partial<Record<QuotaName, number>>;

/** What a VM takes from its project's quota. */
export const vmQuotaAmounts = (cpuCount: number, memoryBytes: number): QuotaAmounts => ({
  'vm.num': 1, 'vm.cpuNum': cpuCount, 'vm.memorySize': memoryBytes,
});

/** The key a resource's reservation is recorded under: one per resource, so a repeat reserves nothing twice. */
export const quotaKey = (resourceType: string, resourceId: string) => `${resourceType}:${resourceId}`;
