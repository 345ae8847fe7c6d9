// A syntactically real OpenSSH ed25519 public key line (type, blob naming its own type, 32
// key bytes, comment) for tests of guest access; `fill` makes different keys.
export function ed25519Key(fill: number, comment = 'alice@laptop'): string {
  const type = Buffer.from('ssh-ed25519');
  const length = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  return `ssh-ed25519 ${Buffer.concat([length(type.length), type, length(32), Buffer.alloc(32, fill)]).toString('base64')} ${comment}`;
}
