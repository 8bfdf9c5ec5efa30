// Files the package ships beside its code (package.json, models/, dist/web/),
// found from the package root: the nearest folder above this module whose
// package.json is medsynth's. The same answer whether this module runs as
// TypeScript in a checkout or as compiled JS from dist/node/ in an install.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'medsynth') return dir;
    if (dirname(dir) === dir) throw new Error(`medsynth: no medsynth package.json above ${from}`);
  }
}

/** The package's root folder. */
export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. packagePath('models', 'default'). */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}

/** The checkpoint shipped with the package, used when --model is not given. */
export const DEFAULT_MODEL = packagePath('models', 'default');
