// Runs the benchmarks named on the command line (all of them without arguments), one
// process each so that one's memory and caches do not colour the next's figures.
// Usage: npm run bench [-- event-store-append audit-rebuild …]

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extension = here.includes(`${join('dist', 'bench')}`) ? '.js' : '.ts';
const available = readdirSync(here)
  .filter((file) => file.endsWith(extension) && !file.endsWith(`.d${extension}`) && file !== `run${extension}`)
  .map((file) => file.slice(0, -extension.length))
  .sort();

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const name of wanted.length > 0 ? wanted : available) {
  console.log(`\n== ${name}`);
  const args = extension === '.ts' ? ['--import', 'tsx', join(here, `${name}.ts`)] : [join(here, `${name}.js`)];
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
