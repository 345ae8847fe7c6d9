/**
 * Encrypts secrets before they enter an event, a read model or a log line (DESIGN.md §3).
 * A sealed value is a self-describing string that names the key it was sealed with,
 * so keys can be rotated while old values stay readable.
 */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}
