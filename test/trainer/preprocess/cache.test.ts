import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cached, cacheKey, canonicalJson, CorruptEntryError, readEntry, writeEntry, type CacheStatus } from '../../../trainer/preprocess/cache.ts';
import { prepareCached } from '../../../trainer/preprocess/pipeline.ts';
import type { Prepared } from '../../../trainer/preprocess/prepared.ts';
import { layeredSphere } from './phantoms.ts';

const root = mkdtempSync(join(tmpdir(), 'medsynth-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `c${n++}`);
const KEY = 'a'.repeat(64);

function sample(): Prepared {
  return {
    examples: [Float32Array.from([-1, 0.5, 1, -0.25]), Float32Array.from([0.125, -0.5, 0, 1])],
    sources: ['a.nii#axial=3', 'a.nii#axial=4'],
    mapping: { kind: 'hu-window', level: 40, width: 400 },
    shape: [2, 2],
    spacing: [0.5, 0.5],
    modality: 'ct',
    report: ['built'],
  };
}

/** A build that counts its calls. */
function counted(make: () => Prepared = sample) {
  const b = async () => {
    b.calls++;
    return make();
  };
  b.calls = 0;
  return b;
}

const plain = (p: Prepared) => ({ ...p, examples: p.examples.map((e) => Array.from(e)) });

describe('cached', () => {
  it('builds once; the second call reads the entry and does not call build', async () => {
    const cacheDir = freshDir();
    const seen: CacheStatus[] = [];
    const opts = { cacheDir, onStatus: (s: CacheStatus) => seen.push(s) };
    const build = counted();
    const first = await cached(KEY, build, opts);
    const second = await cached(KEY, build, opts);
    expect(build.calls).toBe(1);
    expect(seen).toEqual(['miss', 'hit']);
    expect(plain(second)).toEqual(plain(first));
    expect(plain(second)).toEqual(plain(sample()));
    expect(second.examples[0]).toBeInstanceOf(Float32Array);
    expect(readdirSync(cacheDir)).toEqual([`${KEY}.bin`]);
  });

  it('detects a truncated entry and rebuilds it', async () => {
    const cacheDir = freshDir();
    const build = counted();
    await cached(KEY, build, { cacheDir });
    const file = join(cacheDir, `${KEY}.bin`);
    truncateSync(file, statSync(file).size - 8);
    await expect(readEntry(file)).rejects.toThrow(CorruptEntryError);
    const seen: string[] = [];
    const again = await cached(KEY, build, { cacheDir, onStatus: (s, _f, detail) => seen.push(`${s}: ${detail}`) });
    expect(build.calls).toBe(2);
    expect(seen[0]).toMatch(/^corrupt: .*truncated/);
    expect(plain(again)).toEqual(plain(sample()));
    await expect(readEntry(file)).resolves.toBeDefined(); // whole again
    // cut inside the header too
    truncateSync(file, 20);
    await cached(KEY, build, { cacheDir });
    expect(build.calls).toBe(3);
  });

  it('detects a flipped byte (same length) by the hash and rebuilds', async () => {
    const cacheDir = freshDir();
    const build = counted();
    await cached(KEY, build, { cacheDir });
    const file = join(cacheDir, `${KEY}.bin`);
    const bytes = readFileSync(file);
    bytes[bytes.length - 40] ^= 0x10; // inside the last example's values
    writeFileSync(file, bytes);
    await expect(readEntry(file)).rejects.toThrow(/sha256 mismatch/);
    const again = await cached(KEY, build, { cacheDir });
    expect(build.calls).toBe(2);
    expect(plain(again)).toEqual(plain(sample()));
  });

  it('writes nothing when build throws (no partial or temp file)', async () => {
    const cacheDir = freshDir();
    await expect(
      cached(KEY, async () => {
        throw new Error('decode failed');
      }, { cacheDir }),
    ).rejects.toThrow('decode failed');
    let files: string[] = [];
    try {
      files = readdirSync(cacheDir);
    } catch {
      // never created: fine
    }
    expect(files).toEqual([]);
    // and a later successful build is stored normally
    await cached(KEY, counted(), { cacheDir });
    expect(readdirSync(cacheDir)).toEqual([`${KEY}.bin`]);
  });

  it('leaves no partial or temp file when the write fails halfway, and keeps the old entry', async () => {
    const cacheDir = freshDir();
    await cached(KEY, counted(), { cacheDir });
    const file = join(cacheDir, `${KEY}.bin`);
    const before = readFileSync(file);
    // an example that fails once the header and the first example are on disk
    const poisoned = new Proxy(new Float32Array(4), {
      get(target, prop) {
        if (prop === 'buffer') throw new Error('disk full');
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(writeEntry(file, { ...sample(), examples: [sample().examples[0], poisoned] })).rejects.toThrow('disk full');
    expect(readdirSync(cacheDir)).toEqual([`${KEY}.bin`]);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('still returns the data when the cache cannot be written, and says so', async () => {
    const blocker = join(root, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const seen: CacheStatus[] = [];
    const p = await cached(KEY, counted(), { cacheDir: join(blocker, 'cache'), onStatus: (s) => seen.push(s) });
    expect(plain(p)).toEqual(plain(sample()));
    expect(seen).toEqual(['unwritable']);
  });

  it('rejects keys that are not plain names', async () => {
    await expect(cached('../escape', counted(), { cacheDir: freshDir() })).rejects.toThrow(/bad key/);
  });
});

describe('cacheKey', () => {
  it('changes with file size, mtime and config; ignores config key order', async () => {
    const file = join(root, 'scan.nii');
    writeFileSync(file, 'abc');
    utimesSync(file, 1_000_000, 1_000_000);
    const k1 = await cacheKey([file], { a: 1, b: [1, 2] });
    expect(k1).toMatch(/^[0-9a-f]{64}$/);
    expect(await cacheKey([file], { b: [1, 2], a: 1 })).toBe(k1);
    expect(await cacheKey([file], { a: 2, b: [1, 2] })).not.toBe(k1);
    utimesSync(file, 1_000_000, 2_000_000);
    const k2 = await cacheKey([file], { a: 1, b: [1, 2] });
    expect(k2).not.toBe(k1);
    writeFileSync(file, 'abcd');
    utimesSync(file, 1_000_000, 2_000_000);
    expect(await cacheKey([file], { a: 1, b: [1, 2] })).not.toBe(k2);
    expect(canonicalJson({ z: { y: 1, x: 2 } })).toBe('{"z":{"x":2,"y":1}}');
  });
});

describe('prepareCached', () => {
  it('does not decode again on a repeated run', async () => {
    const cacheDir = freshDir();
    const file = join(root, 'phantom.nii');
    writeFileSync(file, 'stand-in for the encoded file');
    let loads = 0;
    const load = async () => {
      loads++;
      return [layeredSphere({ shape: [16, 16, 16], spacing: [2, 2, 2], R: 12, source: file })];
    };
    const config = { target: { shape: [8, 8, 8] as [number, number, number] }, intensity: { kind: 'nyul' as const } };
    const a = await prepareCached([file], load, config, { cacheDir });
    const b = await prepareCached([file], load, config, { cacheDir });
    expect(loads).toBe(1);
    expect(plain(b)).toEqual(plain(a));
    // another config is another entry
    await prepareCached([file], load, { ...config, target: { shape: [4, 4, 4] } }, { cacheDir });
    expect(loads).toBe(2);
  });
});
