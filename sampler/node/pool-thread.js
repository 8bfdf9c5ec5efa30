// A pool thread's entry: the TypeScript worker through tsx's loader (as bin/medsynth.js does).
import { register } from 'tsx/esm/api';

register();
await import('./pool-worker.ts');
