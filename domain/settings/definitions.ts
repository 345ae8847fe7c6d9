// The global settings of the platform: typed, validated, with the defaults of FACTS.md.
// Later contexts add their settings here (vm.deletionPolicy, volume.expungePeriod …).

export type SettingValue = string | number | boolean;

export interface SettingDefinition {
  name: string;
  description: string;
  type: 'integer' | 'boolean' | 'string' | 'enum';
  default: SettingValue;
  /** For integers. */
  min?: number;
  max?: number;
  unit?: string;
  /** For enums. */
  values?: readonly string[];
  /** A secret (a password): the API seals it with the key ring before it is stored, and never shows it. */
  sealed?: boolean;
}

export const settingDefinitions: readonly SettingDefinition[] = [
  {
    name: 'session.timeout',
    description: 'Lifetime of a login session from the moment it is opened.',
    type: 'integer',
    default: 7200,
    min: 60,
    max: 31_536_000,
    unit: 'seconds',
  },
  {
    name: 'effect.operationTimeout',
    description: 'How long a hypervisor operation may take before it is given up and reported failed with OPERATION_TIMEOUT.',
    type: 'integer',
    default: 300,
    min: 1,
    max: 86_400,
    unit: 'seconds',
  },
  {
    name: 'effect.hostConcurrency',
    description: 'How many hypervisor operations run at once on one host (ZStack\'s kvm host.syncLevel, default 10); the operations of one VM always run one after the other.',
    type: 'integer',
    default: 10,
    min: 1,
    max: 1000,
  },
  // Deletion policies (FACTS.md): VM, volume and image settings, same shape for the three.
  {
    name: 'vm.deletionPolicy',
    description: 'What deleting a VM does: Direct expunges it at once; Delay keeps it Destroyed and recoverable until vm.expungePeriod has passed; Never keeps it Destroyed for ever.',
    type: 'enum',
    default: 'Delay',
    values: ['Direct', 'Delay', 'Never'],
  },
  {
    name: 'vm.expungePeriod',
    description: 'How long a VM deleted under the Delay policy stays recoverable (7 days by default), counted from its deletion.',
    type: 'integer',
    default: 604800,
    min: 1,
    max: 315_360_000,
    unit: 'seconds',
  },
  {
    name: 'vm.antiSpoofing',
    description: 'IP/MAC/ARP spoofing protection (libvirt clean-traffic with the NIC\'s IP and MAC) for VMs created without antiSpoofing; a VM keeps what it was created with.',
    type: 'boolean',
    default: true,
  },
  {
    name: 'vm.expungeInterval',
    description: 'How often deleted VMs whose period has passed are looked for and expunged.',
    type: 'integer',
    default: 3600,
    min: 2,
    max: 31_536_000,
    unit: 'seconds',
  },
  {
    name: 'volume.deletionPolicy',
    description: 'What deleting a volume does: Direct expunges it at once; Delay keeps it Destroyed and recoverable until volume.expungePeriod has passed; Never keeps it Destroyed for ever.',
    type: 'enum',
    default: 'Delay',
    values: ['Direct', 'Delay', 'Never'],
  },
  {
    name: 'volume.expungePeriod',
    description: 'How long a volume deleted under the Delay policy stays recoverable (3 days by default), counted from its deletion.',
    type: 'integer',
    default: 259200,
    min: 1,
    max: 315_360_000,
    unit: 'seconds',
  },
  {
    name: 'volume.expungeInterval',
    description: 'How often deleted volumes whose period has passed are looked for and expunged.',
    type: 'integer',
    default: 3600,
    min: 2,
    max: 31_536_000,
    unit: 'seconds',
  },
  {
    name: 'image.deletionPolicy',
    description: 'What deleting an image does: Direct expunges it at once; Delay keeps it Destroyed and recoverable until image.expungePeriod has passed; Never keeps it Destroyed for ever.',
    type: 'enum',
    default: 'Delay',
    values: ['Direct', 'Delay', 'Never'],
  },
  {
    name: 'image.expungePeriod',
    description: 'How long an image deleted under the Delay policy stays recoverable (3 days by default), counted from its deletion.',
    type: 'integer',
    default: 259200,
    min: 1,
    max: 315_360_000,
    unit: 'seconds',
  },
  {
    name: 'image.expungeInterval',
    description: 'How often deleted images whose period has passed are looked for and expunged.',
    type: 'integer',
    default: 3600,
    min: 2,
    max: 31_536_000,
    unit: 'seconds',
  },
  // identity (issue 4) ↓
  { name: 'session.maxConcurrent', description: 'Most sessions one user may have open at once; a login beyond it is refused.', type: 'integer', default: 500, min: 1, max: 100_000 },
  { name: 'password.minLength', description: 'Shortest password accepted when a password is set (a password may never be the user name).', type: 'integer', default: 8, min: 1, max: 1024, unit: 'characters' },
  { name: 'login.lockout.threshold', description: 'Failed logins within the lockout window that lock the user; 0 turns lockout off.', type: 'integer', default: 5, min: 0, max: 1000 },
  { name: 'login.lockout.window', description: 'Period in which failed logins are counted towards a lockout.', type: 'integer', default: 900, min: 1, max: 86_400, unit: 'seconds' },
  { name: 'login.lockout.duration', description: 'How long a locked user cannot log in (an administrator can unlock earlier).', type: 'integer', default: 900, min: 1, max: 31_536_000, unit: 'seconds' },
  { name: 'login.rateLimit.attempts', description: 'Failed authentications (logins, signed requests) one client address may make per window before it is answered 429.', type: 'integer', default: 10, min: 1, max: 100_000 },
  { name: 'login.rateLimit.window', description: 'Window of login.rateLimit.attempts; the allowance refills evenly over it.', type: 'integer', default: 60, min: 1, max: 86_400, unit: 'seconds' },
  { name: 'twoFactor.required', description: 'Every user must use two-factor authentication: users without it can only enrol after logging in.', type: 'boolean', default: false },
  { name: 'ipAccessList.enabled', description: 'Apply the IP allowlists and blocklists to logins and signed requests.', type: 'boolean', default: false },
  // identity (issue 4) ↑
  // e-mail (issue 7) ↓ — an empty host turns e-mail off
  { name: 'mail.smtp.host', description: 'SMTP server that sends notification e-mails (tickets, project expiry); empty: no e-mail is sent.', type: 'string', default: '' },
  { name: 'mail.smtp.port', description: 'Port of the SMTP server (25, 465 with mail.smtp.secure, 587 with STARTTLS).', type: 'integer', default: 25, min: 1, max: 65_535 },
  { name: 'mail.smtp.secure', description: 'Connect with TLS from the start (port 465); otherwise STARTTLS is used when the server offers it.', type: 'boolean', default: false },
  { name: 'mail.smtp.username', description: 'User name of the SMTP login; empty: no login.', type: 'string', default: '' },
  { name: 'mail.smtp.password', description: 'Password of the SMTP login: stored encrypted, never shown.', type: 'string', default: '', sealed: true },
  { name: 'mail.smtp.from', description: 'Sender address of notification e-mails.', type: 'string', default: 'Stratus <stratus@localhost>' },
  // e-mail (issue 7) ↑
];

export function findSetting(name: string): SettingDefinition | undefined {
  return settingDefinitions.find((definition) => definition.name === name);
}

/** Why `value` is not acceptable for `definition`, or undefined when it is. */
export function settingValueProblem(definition: SettingDefinition, value: unknown): string | undefined {
  switch (definition.type) {
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer';
      if (definition.min !== undefined && value < definition.min) return `must be at least ${definition.min}`;
      if (definition.max !== undefined && value > definition.max) return `must be at most ${definition.max}`;
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be a boolean';
    case 'string':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'enum':
      return typeof value === 'string' && definition.values?.includes(value)
        ? undefined
        : `must be one of ${definition.values?.join(', ')}`;
  }
}
