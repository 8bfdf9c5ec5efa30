// A pool thread's entry from a checkout: pool-thread.ts through tsx's loader (as bin/medsynth.js does).
import { register } from 'tsx/esm/api';

register();
await import('./pool-thread.ts');
