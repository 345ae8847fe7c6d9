import { resolve } from 'node:path';
import { parseSimulatorFaults } from '../adapters/hypervisor/simulator.js';
import { checkBusUrl, integrationEventsTopicOf } from './bus.js';

// Configuration comes from the environment; a fresh clone runs with none of it set.

/** A PKCS12 file (.p12/.pfx, with its passphrase), or PEM certificate (chain first) and key files. */
export interface TlsConfig {
  pfxFile?: string;
  certFile?: string;
  keyFile?: string;
  passphrase?: string;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  eventStoreUrl: string;
  readStoreUrl: string;
  busUrl: string;
  /** Topic every domain event is published to for outside consumers (STRATUS_INTEGRATION_EVENTS); off when undefined. */
  integrationEventsTopic?: string;
  /** JSON faults for simulator hosts (STRATUS_SIMULATOR_FAULTS), parsed by the simulator. */
  simulatorFaults: string | undefined;
  masterKey: string | undefined;
  previousMasterKeys: string | undefined;
  adminPassword: string | undefined;
  trustedProxies: string[];
  /** Serve HTTPS with this certificate (STRATUS_TLS_*); plain HTTP when absent. */
  tls: TlsConfig | undefined;
  /** A plain-HTTP port that redirects to HTTPS (only with TLS). */
  httpRedirectPort: number | undefined;
  logLevel: string;
  /**
   * embedded: `stratus serve` runs everything in one process (the default). scale-out: it runs
   * the API and command handling only; projections run in `stratus project` workers and
   * hypervisor drivers in `stratus agent` processes (STRATUS_TOPOLOGY).
   */
  topology: 'embedded' | 'scale-out';
  /** How long a projection (or the command processes of serve) stays with a process that stopped renewing its lease. */
  leaseMs: number;
  /** Projections a worker may take (STRATUS_PROJECTIONS); all when undefined. */
  projections: string[] | undefined;
  /** Hosts of an agent process (STRATUS_AGENT_HOSTS, or --hosts): `all`, host ids or management IPs. */
  agentHosts: string[] | undefined;
  /** Kafka consumer session timeout: how long a dead agent holds its hosts' partitions. */
  kafkaSessionTimeoutMs: number | undefined;
  /** Embedded shape: apply the projections in a thread of their own (STRATUS_PROJECTION_THREAD). */
  projectionThread: boolean;
}

export const configDocs: Array<[name: string, defaultValue: string, meaning: string]> = [
  ['STRATUS_PORT', '8080', 'HTTP port of the API'],
  ['STRATUS_HOST', '0.0.0.0', 'address the API listens on'],
  ['STRATUS_DATA_DIR', './data', 'where the embedded stores and the key file live'],
  ['STRATUS_EVENTSTORE', 'sqlite:<data dir>/events.db', 'event store URL'],
  // Scale-out (bin/scale-out-stores.ts): kurrentdb://host:2113?tls=false (or esdb://) for the event store, mongodb://… for the read store.
  ['STRATUS_READSTORE', 'sqlite:<data dir>/read.db', 'read-model store URL'],
  ['STRATUS_BUS', 'local', 'effect bus: local (in-process) or kafka://host:9092[,host2:9092…]'],
  ['STRATUS_INTEGRATION_EVENTS', 'stratus.integration-events with Kafka, off with local', 'topic that gets every domain event (keyed by stream) for outside consumers, or off'],
  ['STRATUS_SIMULATOR_FAULTS', '', 'faults for simulator hosts, JSON: [{"host":"<host id|management IP|*>","kind":"fail|hang|down","count":1,"op":"vm.start","code":"INJECTED_FAULT"}]'],
  ['STRATUS_MASTER_KEY', '(key file in the data dir)', '32-byte master key (hex or base64) that seals secrets'],
  ['STRATUS_PREVIOUS_MASTER_KEYS', '', 'retired master keys, comma-separated, still used to open old secrets'],
  ['STRATUS_ADMIN_PASSWORD', '(generated, printed once)', 'password of the first admin, used on first start only'],
  ['STRATUS_TRUSTED_PROXIES', '', 'comma-separated addresses/CIDRs whose X-Forwarded-For is believed'],
  ['STRATUS_TLS_PFX', '', 'serve HTTPS with this PKCS12 file (.p12/.pfx): certificate chain and key'],
  ['STRATUS_TLS_PASSPHRASE', '', 'passphrase of the PKCS12 file (or of an encrypted PEM key)'],
  ['STRATUS_TLS_CERT', '', 'serve HTTPS with this PEM certificate chain (with STRATUS_TLS_KEY), instead of a PKCS12 file'],
  ['STRATUS_TLS_KEY', '', 'PEM private key of STRATUS_TLS_CERT'],
  ['STRATUS_HTTP_REDIRECT_PORT', '', 'with TLS: also listen on this plain-HTTP port and redirect every request to HTTPS'],
  ['STRATUS_LOG_LEVEL', 'info', 'pino log level'],
  ['STRATUS_ROLE', 'serve', 'the process to run when no command is given: serve, project or agent'],
  ['STRATUS_TOPOLOGY', 'embedded', 'embedded (serve runs projections and the hypervisor agent in-process) or scale-out (they run in `stratus project` and `stratus agent` processes; needs STRATUS_BUS=kafka://…)'],
  ['STRATUS_LEASE_SECONDS', '15', 'scale-out: how long a projection stays with a worker (or the command processes with a serve node) that stopped renewing its lease'],
  ['STRATUS_PROJECTIONS', '(all)', '`stratus project`: comma-separated projections this worker may take (the others are left to other workers)'],
  ['STRATUS_AGENT_HOSTS', '', '`stratus agent`: hosts it drives: all, or comma-separated host ids or management IPs (same as --hosts)'],
  ['STRATUS_PROJECTION_THREAD', 'on', 'embedded: apply the projections in a worker thread (another core) instead of the main thread: on or off'],
  ['STRATUS_KAFKA_SESSION_TIMEOUT_MS', '30000', 'Kafka consumer session timeout: how long the partitions of a dead consumer (an agent killed) wait before another member gets them'],
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
    ...busConfig(env),
    // Parsed here too, so that a malformed value stops the start before anything opens.
    simulatorFaults: parseSimulatorFaults(env.STRATUS_SIMULATOR_FAULTS).length > 0 ? env.STRATUS_SIMULATOR_FAULTS : undefined,
    masterKey: env.STRATUS_MASTER_KEY || undefined,
    previousMasterKeys: env.STRATUS_PREVIOUS_MASTER_KEYS || undefined,
    adminPassword: env.STRATUS_ADMIN_PASSWORD || undefined,
    trustedProxies: (env.STRATUS_TRUSTED_PROXIES || '').split(',').map((item) => item.trim()).filter(Boolean),
    ...tlsConfig(env),
    logLevel: env.STRATUS_LOG_LEVEL || 'info',
    projectionThread: onOff(env.STRATUS_PROJECTION_THREAD, 'STRATUS_PROJECTION_THREAD', true),
    ...scaleOutConfig(env),
  };
}

function onOff(value: string | undefined, name: string, byDefault: boolean): boolean {
  if (value === undefined || value === '') return byDefault;
  if (value === 'on' || value === 'off') return value === 'on';
  throw new Error(`${name} must be on or off, not ${value}`);
}

function scaleOutConfig(env: NodeJS.ProcessEnv): Pick<Config, 'topology' | 'leaseMs' | 'projections' | 'agentHosts' | 'kafkaSessionTimeoutMs'> {
  const topology = env.STRATUS_TOPOLOGY || 'embedded';
  if (topology !== 'embedded' && topology !== 'scale-out') throw new Error(`STRATUS_TOPOLOGY must be embedded or scale-out, not ${topology}`);
  if (topology === 'scale-out' && !(env.STRATUS_BUS || '').startsWith('kafka://')) {
    throw new Error('STRATUS_TOPOLOGY=scale-out needs STRATUS_BUS=kafka://…: agents in other processes cannot read the in-process bus');
  }
  const leaseSeconds = Number(env.STRATUS_LEASE_SECONDS || 15);
  if (!(leaseSeconds > 0 && leaseSeconds <= 3600)) throw new Error(`STRATUS_LEASE_SECONDS must be a number of seconds (0 < s <= 3600), not ${env.STRATUS_LEASE_SECONDS}`);
  let kafkaSessionTimeoutMs: number | undefined;
  if (env.STRATUS_KAFKA_SESSION_TIMEOUT_MS) {
    kafkaSessionTimeoutMs = Number(env.STRATUS_KAFKA_SESSION_TIMEOUT_MS);
    if (!Number.isInteger(kafkaSessionTimeoutMs) || kafkaSessionTimeoutMs < 1000) throw new Error(`STRATUS_KAFKA_SESSION_TIMEOUT_MS must be milliseconds (>= 1000), not ${env.STRATUS_KAFKA_SESSION_TIMEOUT_MS}`);
  }
  return {
    topology,
    leaseMs: Math.round(leaseSeconds * 1000),
    projections: list(env.STRATUS_PROJECTIONS),
    agentHosts: list(env.STRATUS_AGENT_HOSTS),
    kafkaSessionTimeoutMs,
  };
}

function list(value: string | undefined): string[] | undefined {
  const items = (value || '').split(',').map((item) => item.trim()).filter(Boolean);
  return items.length > 0 ? items : undefined;
}

function busConfig(env: NodeJS.ProcessEnv): Pick<Config, 'integrationEventsTopic'> {
  const busUrl = env.STRATUS_BUS || 'local';
  checkBusUrl(busUrl);
  const topic = integrationEventsTopicOf(env, busUrl);
  return topic ? { integrationEventsTopic: topic } : {};
}

/** The file of a `sqlite:<path>` URL, relative paths resolved from the working directory. */
export function sqliteFile(url: string, what: string): string {
  if (!url.startsWith('sqlite:')) {
    throw new Error(`${what} ${url} is not supported yet: this build has the embedded SQLite store only (sqlite:<file>)`);
  }
  return resolve(url.slice('sqlite:'.length));
}

function tlsConfig(env: NodeJS.ProcessEnv): Pick<Config, 'tls' | 'httpRedirectPort'> {
  const passphrase = env.STRATUS_TLS_PASSPHRASE || undefined;
  let tls: TlsConfig | undefined;
  if (env.STRATUS_TLS_PFX) {
    if (env.STRATUS_TLS_CERT || env.STRATUS_TLS_KEY) throw new Error('set either STRATUS_TLS_PFX or STRATUS_TLS_CERT and STRATUS_TLS_KEY, not both');
    tls = { pfxFile: resolve(env.STRATUS_TLS_PFX) };
  } else if (env.STRATUS_TLS_CERT || env.STRATUS_TLS_KEY) {
    if (!env.STRATUS_TLS_CERT || !env.STRATUS_TLS_KEY) throw new Error('STRATUS_TLS_CERT and STRATUS_TLS_KEY go together');
    tls = { certFile: resolve(env.STRATUS_TLS_CERT), keyFile: resolve(env.STRATUS_TLS_KEY) };
  }
  if (tls && passphrase) tls.passphrase = passphrase;
  let httpRedirectPort: number | undefined;
  if (env.STRATUS_HTTP_REDIRECT_PORT) {
    if (!tls) throw new Error('STRATUS_HTTP_REDIRECT_PORT redirects to HTTPS: it needs STRATUS_TLS_PFX or STRATUS_TLS_CERT/KEY');
    httpRedirectPort = Number(env.STRATUS_HTTP_REDIRECT_PORT);
    if (!Number.isInteger(httpRedirectPort) || httpRedirectPort < 0 || httpRedirectPort > 65535) {
      throw new Error(`STRATUS_HTTP_REDIRECT_PORT must be a port number, not ${env.STRATUS_HTTP_REDIRECT_PORT}`);
    }
  }
  return { tls, httpRedirectPort };
}
