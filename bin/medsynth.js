#!/usr/bin/env node
// The `medsynth` command: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../cli/entry.ts');
await run(process.argv.slice(2));
