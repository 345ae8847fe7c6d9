import { resolve } from 'node:path';

// Configuration comes from the environment; a fresh clone runs with none of it set.

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  eventStoreUrl: string;
  readStoreUrl: string;
  busUrl: string;
  masterKey: string | undefined;
  previousMasterKeys: string | undefined;
  adminPassword: string | undefined;
  trustedProxies: string[];
  logLevel: string;
}

export const configDocs: Array<[name: string, defaultValue: string, meaning: string]> = [
  ['STRATUS_PORT', '8080', 'HTTP port of the API'],
  ['STRATUS_HOST', '0.0.0.0', 'address the API listens on'],
  ['STRATUS_DATA_DIR', './data', 'where the embedded stores and the key file live'],
  ['STRATUS_EVENTSTORE', 'sqlite:<data dir>/events.db', 'event store URL'],
  ['STRATUS_READSTORE', 'sqlite:<data dir>/read.db', 'read-model store URL'],
  ['STRATUS_BUS', 'local', 'effect bus (in-process)'],
  ['STRATUS_MASTER_KEY', '(key file in the data dir)', '32-byte master key (hex or base64) that seals secrets'],
  ['STRATUS_PREVIOUS_MASTER_KEYS', '', 'retired master keys, comma-separated, still used to open old secrets'],
  ['STRATUS_ADMIN_PASSWORD', '(generated, printed once)', 'password of the first admin, used on first start only'],
  ['STRATUS_TRUSTED_PROXIES', '', 'comma-separated addresses/CIDRs whose X-Forwarded-For is believed'],
  ['STRATUS_LOG_LEVEL', 'info', 'pino log level'],
];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.STRATUS_DATA_DIR || './data');
  const port = Number(env.STRATUS_PORT || 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`STRATUS_PORT must be a port number, not ${env.STRATUS_PORT}`);
  return {
    port,
    host: env.STRATUS_HOST || '0.0.0.0',
    dataDir,
    eventStoreUrl: env.STRATUS_EVENTSTORE || `sqlite:${resolve(dataDir, 'events.db')}`,
    readStoreUrl: env.STRATUS_READSTORE || `sqlite:${resolve(dataDir, 'read.db')}`,
    busUrl: env.STRATUS_BUS || 'local',
    masterKey: env.STRATUS_MASTER_KEY || undefined,
    previousMasterKeys: env.STRATUS_PREVIOUS_MASTER_KEYS || undefined,
    adminPassword: env.STRATUS_ADMIN_PASSWORD || undefined,
    trustedProxies: (env.STRATUS_TRUSTED_PROXIES || '').split(',').map((item) => item.trim()).filter(Boolean),
    logLevel: env.STRATUS_LOG_LEVEL || 'info',
  };
}

/** The file of a `sqlite:<path>` URL, relative paths resolved from the working directory. */
export function sqliteFile(url: string, what: string): string {
  if (!url.startsWith('sqlite:')) {
    throw new Error(`${what} ${url} is not supported yet: this build has the embedded SQLite store only (sqlite:<file>)`);
  }
  return resolve(url.slice('sqlite:'.length));
}
