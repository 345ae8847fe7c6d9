// Requests are recorded in task events and the audit log; secrets in them must not be.
const secretKey = /(password|passwd|secret|token|totp|privatekey|credential|masterkey|apikey)/i;

export const REDACTED = '***';

/** A copy of `value` with every field whose name suggests a secret replaced by `***`. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = secretKey.test(key) && inner !== undefined && inner !== null ? REDACTED : redactSecrets(inner);
  }
  return copy;
}
