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
