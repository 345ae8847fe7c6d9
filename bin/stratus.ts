#!/usr/bin/env node
import { mkdirSync } from 'node:fs';
import { systemClock } from '../adapters/clock/system.js';
import { allProjections } from '../projections/index.js';
import { startAgentProcess } from './agent-process.js';
import { composeStratus, openEventStore, openStores, version } from './compose.js';
import { createProjectionWorker } from './projection-worker.js';
import { configDocs, loadConfig, sqliteFile } from './config.js';
import { createLogger } from './logger.js';
import { replay } from './replay.js';
import { listenApi } from './tls.js';
import { sqliteParallelRebuild } from './rebuild-options.js';

const help = `stratus ${version} — control plane of a private KVM cloud (event-sourced CQRS)

Usage:
  stratus [serve]                 run the API and command handling; in the embedded topology
                                  (default) also the projections and the hypervisor agent
  stratus project [--projections a,b]
                                  scale-out: a projection worker; each projection runs on one
                                  worker at a time (a lease in the read store), the others
                                  take it over when its worker dies
  stratus agent --hosts <all|id,id|ip,ip>
                                  scale-out: the hypervisor agent for those hosts (host ids,
                                  or management addresses of hosts not added yet), consuming
                                  effect commands from Kafka
  stratus replay <name|all> [--apply]
                                  rebuild read models from position zero, compare with the
                                  live ones; --apply replaces the live ones (server stopped)
  stratus --help | --version

  With no command, STRATUS_ROLE (serve, project or agent) picks the process.

Projections: ${allProjections.map((projection) => projection.name).join(', ')}

Environment:
${configDocs.map(([name, defaultValue, meaning]) => `  ${name.padEnd(30)} ${meaning} (default: ${defaultValue || 'none'})`).join('\n')}
`;

async function serve() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  mkdirSync(config.dataDir, { recursive: true });
  const stratus = await composeStratus(config, { log });
  if (stratus.generatedAdminPassword) {
    // Shown once, on the console only (not through the logger): it is never stored in clear.
    process.stdout.write(`\n  First start: user "admin" created with password: ${stratus.generatedAdminPassword}\n  Set STRATUS_ADMIN_PASSWORD to choose it instead. It is not shown again.\n\n`);
  }
  const listening = await listenApi(stratus.app, { port: config.port, host: config.host, tls: config.tls, httpRedirectPort: config.httpRedirectPort });
  const { port } = listening;
  log.info({ port, host: config.host, dataDir: config.dataDir, version, tls: listening.scheme === 'https', redirectPort: listening.redirectPort },
    `Stratus listening on ${listening.scheme}://${config.host}:${port}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    void listening.close();
    await stratus.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** `--name value` or `--name=value`. */
function flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i]!.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return undefined;
}

function onStop(log: { info(details: object, message: string): void }, close: () => Promise<void>) {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function project(args: string[]) {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const wanted = flag(args, 'projections')?.split(',').map((name) => name.trim()).filter(Boolean) ?? config.projections;
  const unknown = (wanted ?? []).filter((name) => !allProjections.some((projection) => projection.name === name));
  if (unknown.length > 0) throw new Error(`unknown projections: ${unknown.join(', ')} (there are ${allProjections.map((p) => p.name).join(', ')})`);
  const projections = wanted ? allProjections.filter((projection) => wanted.includes(projection.name)) : allProjections;
  mkdirSync(config.dataDir, { recursive: true });
  const { eventStore, readStore } = openStores(config, systemClock);
  const worker = createProjectionWorker({ eventStore, readStore, clock: systemClock, projections, log, leaseMs: config.leaseMs });
  await worker.start();
  log.info({ projections: projections.length, held: worker.running() }, 'projection worker started');
  onStop(log, async () => {
    await worker.stop();
    await eventStore.close();
    await readStore.close();
  });
}

async function agent(args: string[]) {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const hosts = flag(args, 'hosts')?.split(',').map((host) => host.trim()).filter(Boolean) ?? config.agentHosts;
  if (!hosts || hosts.length === 0) throw new Error('stratus agent needs --hosts all|<host id or address>[,…] (or STRATUS_AGENT_HOSTS)');
  if (!config.masterKey) throw new Error('stratus agent needs STRATUS_MASTER_KEY (the key of the serve nodes) to open host passwords');
  mkdirSync(config.dataDir, { recursive: true });
  const { eventStore } = openEventStore(config, systemClock);
  const running = await startAgentProcess(config, { eventStore, clock: systemClock, log, hosts: hosts.includes('all') ? 'all' : hosts });
  onStop(log, async () => {
    await running.stop();
    await eventStore.close();
  });
}

async function replayCommand(args: string[]) {
  const name = args.find((arg) => !arg.startsWith('--'));
  const apply = args.includes('--apply');
  const projections = name === 'all' ? allProjections : allProjections.filter((projection) => projection.name === name);
  if (!name || projections.length === 0) {
    process.stderr.write(`stratus replay: name a projection (${allProjections.map((p) => p.name).join(', ')}) or all\n`);
    process.exit(2);
  }
  const config = loadConfig();
  const { eventStore, readStore } = openStores(config, systemClock);
  try {
    // Rebuild threads read a SQLite event store's file themselves (none for KurrentDB).
    const parallel = config.eventStoreUrl.startsWith('sqlite:') ? sqliteParallelRebuild({ eventsFile: sqliteFile(config.eventStoreUrl, 'STRATUS_EVENTSTORE') }) : undefined;
    const reports = await replay({ eventStore, live: readStore, projections, scratchDir: config.dataDir, apply, out: process.stderr, parallel });
    for (const report of reports) {
      const rate = report.seconds > 0 ? Math.round(report.events / report.seconds) : report.events;
      process.stdout.write(`${report.projection}: rebuilt ${report.events} events in ${report.seconds.toFixed(2)} s (${rate} events/s); ` +
        `${report.equal ? 'equal to the live model' : 'DIFFERS from the live model'}${apply ? '; applied' : ''}\n`);
      for (const difference of report.differences) process.stdout.write(`  ${difference}\n`);
    }
    process.exitCode = reports.every((report) => report.equal) ? 0 : 1;
  } finally {
    await eventStore.close();
    await readStore.close();
  }
}

async function main(argv: string[]) {
  const [command = process.env.STRATUS_ROLE || 'serve', ...rest] = argv;
  switch (command) {
    case 'serve': return serve();
    case 'project': return project(rest);
    case 'agent': return agent(rest);
    case 'replay': return replayCommand(rest);
    case '--help': case '-h': case 'help':
      process.stdout.write(help);
      return;
    case '--version': case '-v':
      process.stdout.write(`${version}\n`);
      return;
    default:
      process.stderr.write(`stratus: unknown command "${command}"\n\n${help}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`stratus: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
