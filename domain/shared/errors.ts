/** A rule of the domain was broken. `code` is stable: clients and the audit log key on it. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Which HTTP-independent kind of failure this is; the API maps it to a status. */
    readonly kind: 'conflict' | 'invalid' | 'not_found' | 'forbidden' | 'unauthorized' | 'gone' | 'precondition' = 'conflict',
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
