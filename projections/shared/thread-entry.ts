import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * The entry URL of a worker thread whose module sits beside `from` (an import.meta.url) under
 * `name` (without extension): the build's `.js` in dist/, or, when running from the
 * TypeScript sources (tsx, vitest), a small module that registers tsx's loader in the thread
 * first — a worker does not take `--import tsx` from execArgv before its entry module loads
 * on Node 20. Start the Worker with `execArgv: []`.
 */
export function threadEntry(from: string, name: string): URL {
  if (!from.endsWith('.ts')) return new URL(`./${name}.js`, from);
  const tsxApi = pathToFileURL(createRequire(from).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const entry = new URL(`./${name}.ts`, from).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}
