// The layering the README's "What is inside" promises (DESIGN §2): imports run
// one way, shared <- sampler <- trainer, worker <- cli, and no two files
// import each other through any chain.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** A folder may import its own files and those of lower layers only. */
const LAYER: Record<string, number> = { shared: 0, sampler: 1, trainer: 2, worker: 2, cli: 3 };

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (/\.(ts|js)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Relative import targets of `file` (static, dynamic and type-only), as root-relative paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom|\bimport\s*\(|^import)\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) out.push(normalize(join(dirname(file), m[1])));
  return out;
}

const files = Object.keys(LAYER).flatMap((d) => sources(d));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('architecture', () => {
  it('finds the source tree', () => {
    expect(files).toContain(join('cli', 'main.ts'));
    expect(graph.get(join('cli', 'main.ts'))).toContain(join('cli', 'sample.ts'));
  });

  it('runs every import one way: shared <- sampler <- trainer, worker <- cli', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const from = file.split(/[\\/]/)[0];
      for (const t of targets) {
        const to = relative('.', t).split(/[\\/]/)[0];
        if (!(to in LAYER) || to === from) continue;
        if (LAYER[to] >= LAYER[from]) upward.push(`${file} -> ${t}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle between files', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) if (graph.has(t)) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
