// A gradient thread's entry from a checkout: gradient-thread.ts through tsx's loader (as bin/medsynth.js does).
import { register } from 'tsx/esm/api';

register();
await import('./gradient-thread.ts');
