// Builds the Workers bundle exactly as `wrangler deploy` would upload it
// (wrangler's own esbuild step, config from wrangler.toml), without deploying:
//   npx tsx worker/bundle.ts [outdir]      (default dist/worker)
// The tests run the result under miniflare.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadInputError } from '../shared/errors.ts';
import { PACKAGE_ROOT } from '../sampler/node/package-files.ts';

export const PROJECT_ROOT = PACKAGE_ROOT;

/** The project's wrangler (a development dependency: an installed package has it only if the user added it). */
export function wranglerBin(): string {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve('wrangler/package.json');
  } catch {
    throw new BadInputError('wrangler is not installed: `npm install --save-dev wrangler` to publish to a local bucket or build the Worker');
  }
  return join(dirname(manifest), 'bin', 'wrangler.js');
}
/** No usage reports leave the machine from builds and tests. */
export const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false' };

/** Runs the project's wrangler with `args` in the project root; resolves to its output, rejects with it on failure. */
export function runWrangler(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [wranglerBin(), ...args], { cwd: PROJECT_ROOT, env: WRANGLER_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(log) : fail(new Error(`wrangler ${args[0]} failed (exit ${code}):\n${log}`))));
  });
}

/** Bundles worker/workers.ts into `outdir`; resolves to the bundle's path. */
export async function bundleWorker(outdir: string): Promise<string> {
  const out = resolve(outdir);
  await runWrangler(['deploy', '--dry-run', '--outdir', out]);
  return join(out, 'workers.js');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const path = await bundleWorker(process.argv[2] ?? join(PROJECT_ROOT, 'dist', 'worker'));
  console.log(`bundled ${path}`);
}
