// `npm run build` (and `npm pack`, through prepack): the package's compiled
// ESM with .d.ts files in dist/node/ (tsconfig.build.json), built from clean
// so no file of a removed source survives, then the browser bundle.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { packagePath } from '../sampler/node/package-files.ts';

rmSync(packagePath('dist', 'node'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', packagePath('tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const { buildBrowser } = await import('./build-browser.ts');
// Only when an input changed: the browser tests and `npm start` read this bundle, and build it the same way.
const browser = await buildBrowser({ ifStale: true });
console.log(`built dist/node and ${browser.outdir}`);
