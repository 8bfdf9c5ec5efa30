// Builds the browser bundle with esbuild into dist/web/browser/:
//   medsynth.js          the page-side ES module (medsynth/browser): <medsynth-generator>, createGenerator()
//   medsynth-worker.js   the generation worker (classic script: tfjs, backends, loader, samplers)
//   tfjs-backend-wasm*.wasm  the wasm backend's binaries, loaded beside the worker
//   build.json           what went in, for the staleness check
// and dist/web/_headers (Cloudflare Workers static assets: the same headers the Node server sends).
//   npx tsx scripts/build-browser.ts [--if-stale] [outdir]     (npm run build:browser)
// `npm start` and the browser tests build only when an input changed since the last build.
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { ASSET_HEADERS } from '../worker/demo/assets.ts';
import { BROWSER_DIR } from '../worker/demo/node-assets.ts';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
const BUILD_INFO = 'build.json';

interface BuildInfo {
  inputs: string[];
}

/** load.ts imports the folder source lazily for Node; in the browser a folder is an error, not node:fs. */
const noNodeFolders: Plugin = {
  name: 'medsynth-no-node-folders',
  setup(b) {
    b.onResolve({ filter: /\/node\/folder-source\.ts$/ }, (args) => ({ path: args.path, namespace: 'medsynth-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'medsynth-stub' }, () => ({
      contents: `export function folderSource(dir) { throw new Error('checkpoint folders (' + dir + ') cannot be read in the browser: use an http(s) URL'); }`,
      loader: 'js',
    }));
  },
};

/** True when the bundle is missing or any file that went into it changed after it was built. */
export async function isStale(outdir = BROWSER_DIR): Promise<boolean> {
  let info: BuildInfo;
  let builtAt: number;
  try {
    info = JSON.parse(await readFile(join(outdir, BUILD_INFO), 'utf8')) as BuildInfo;
    builtAt = (await stat(join(outdir, BUILD_INFO))).mtimeMs;
    for (const f of ['medsynth.js', 'medsynth-worker.js', ...WASM_FILES]) await stat(join(outdir, f));
  } catch {
    return true;
  }
  // This script's own changes count too.
  for (const input of [...info.inputs, relative(PROJECT_ROOT, fileURLToPath(import.meta.url))]) {
    const s = await stat(join(PROJECT_ROOT, input)).catch(() => undefined);
    if (!s || s.mtimeMs > builtAt) return true;
  }
  return false;
}

export interface BuildResult {
  outdir: string;
  /** False when --if-stale found the bundle current. */
  built: boolean;
  bytes: Record<string, number>;
}

/** Runs `fn` holding a lock folder beside `outdir`: concurrent builds (parallel test files, npm start) take turns. */
async function withLock<T>(outdir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${outdir}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock older than any build is left from a killed process.
      const since = await stat(lock).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (since > 60_000) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

export async function buildBrowser(opts: { outdir?: string; ifStale?: boolean } = {}): Promise<BuildResult> {
  const outdir = resolve(opts.outdir ?? BROWSER_DIR);
  return withLock(outdir, () => buildLocked(outdir, opts.ifStale ?? false));
}

async function buildLocked(outdir: string, ifStale: boolean): Promise<BuildResult> {
  const sizes = async () =>
    Object.fromEntries(await Promise.all(['medsynth.js', 'medsynth-worker.js'].map(async (f) => [f, (await stat(join(outdir, f))).size] as const)));
  if (ifStale && !(await isStale(outdir))) return { outdir, built: false, bytes: await sizes() };

  await mkdir(outdir, { recursive: true });
  const common = {
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'browser' as const,
    target: 'es2022',
    minify: true,
    sourcemap: 'linked' as const,
    metafile: true,
    logLevel: 'warning' as const,
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [noNodeFolders],
  };
  const [page, worker] = await Promise.all([
    build({ ...common, entryPoints: ['sampler/browser/index.ts'], outfile: join(outdir, 'medsynth.js'), format: 'esm' }),
    // A classic script: it also loads through importScripts from a blob when the page is on another origin.
    build({ ...common, entryPoints: ['sampler/browser/web-worker.ts'], outfile: join(outdir, 'medsynth-worker.js'), format: 'iife' }),
  ]);
  const wasmDir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  await Promise.all(WASM_FILES.map((f) => copyFile(join(wasmDir, f), join(outdir, f))));

  // Real files only: not the stub, nor the modules a package's browser field disables ("(disabled):fs").
  const inputs = new Set([...Object.keys(page.metafile!.inputs), ...Object.keys(worker.metafile!.inputs)].filter((p) => !p.includes(':')));
  for (const f of WASM_FILES) inputs.add(relative(PROJECT_ROOT, join(wasmDir, f)));
  await writeFile(join(outdir, BUILD_INFO), `${JSON.stringify({ inputs: [...inputs].sort() } satisfies BuildInfo, null, 1)}\n`);
  // Cloudflare's static assets read headers from _headers at the assets root (one level above browser/).
  const headers = Object.entries(ASSET_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n');
  await writeFile(join(dirname(outdir), '_headers'), `/browser/*\n${headers}\n`);
  return { outdir, built: true, bytes: await sizes() };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const ifStale = args.includes('--if-stale');
  const outdir = args.find((a) => !a.startsWith('--'));
  const start = performance.now();
  const r = await buildBrowser({ outdir, ifStale });
  const sizes = Object.entries(r.bytes).map(([f, n]) => `${f} ${(n / 1024).toFixed(0)} KiB`).join(', ');
  console.log(r.built ? `built ${r.outdir} in ${Math.round(performance.now() - start)} ms: ${sizes}` : `${r.outdir} is up to date`);
}
