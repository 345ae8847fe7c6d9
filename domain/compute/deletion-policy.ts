// Deletion policies (FACTS.md, reference/001: ZStack's VM, volume and image deletion
// policies). One rule for the three kinds of resources that have them, so that VMs, volumes
// and images are destroyed, kept and expunged the same way.

export const deletionPolicies = ['Direct', 'Delay', 'Never'] as const;
export type DeletionPolicy = (typeof deletionPolicies)[number];

/** Resources that follow a deletion policy, named as their settings are (`vm.deletionPolicy` …). */
export const deletableKinds = ['vm', 'volume', 'image'] as const;
export type DeletableKind = (typeof deletableKinds)[number];

export interface DeletionSettings {
  policy: DeletionPolicy;
  /** Seconds a destroyed resource stays recoverable under `Delay`. */
  expungePeriodSeconds: number;
  /** Seconds between two checks for resources whose period has passed. */
  expungeIntervalSeconds: number;
}

/** The names of a kind's three settings. */
export function deletionSettingNames(kind: DeletableKind) {
  return {
    policy: `${kind}.deletionPolicy`,
    expungePeriod: `${kind}.expungePeriod`,
    expungeInterval: `${kind}.expungeInterval`,
  } as const;
}

/** FACTS.md defaults: VMs are kept 7 days, volumes and images 3 days; checks every hour. */
export const deletionDefaults: Record<DeletableKind, DeletionSettings> = {
  vm: { policy: 'Delay', expungePeriodSeconds: 604_800, expungeIntervalSeconds: 3600 },
  volume: { policy: 'Delay', expungePeriodSeconds: 259_200, expungeIntervalSeconds: 3600 },
  image: { policy: 'Delay', expungePeriodSeconds: 259_200, expungeIntervalSeconds: 3600 },
};

export const isDeletionPolicy = (value: unknown): value is DeletionPolicy =>
  typeof value === 'string' && (deletionPolicies as readonly string[]).includes(value);

/**
 * When a resource destroyed at `destroyedAt` is to be expunged: at once under `Direct`, after
 * the period under `Delay`, never under `Never` (null). The period runs from the destroy
 * event's own time — unlike ZStack, whose expunger counts from the row's last update, so that
 * any later change (a rename in the recycle bin) would restart the clock.
 */
export function expungeAtFor(policy: DeletionPolicy, destroyedAt: number, expungePeriodSeconds: number): number | null {
  switch (policy) {
    case 'Direct':
      return destroyedAt;
    case 'Delay':
      return destroyedAt + expungePeriodSeconds * 1000;
    case 'Never':
      return null;
  }
}

/** Whether a destroyed resource's expunge is due at `now`. */
export const isExpungeDue = (expungeAt: number | null | undefined, now: number): boolean =>
  typeof expungeAt === 'number' && expungeAt <= now;
