#!/usr/bin/env node
// The `medsynth` command. An installed package runs its compiled JS
// (dist/node/, built by `npm run build` before packing); a source checkout
// runs the TypeScript itself through tsx, so it never runs a stale build.
import { existsSync } from 'node:fs';

const source = new URL('../cli/entry.ts', import.meta.url);
let entry;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = await import(source.href);
} else {
  entry = await import(new URL('../dist/node/cli/entry.js', import.meta.url).href);
}
await entry.run(process.argv.slice(2));
