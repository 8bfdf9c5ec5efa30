import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError, encodeCheckpoint, loadCheckpoint } from '../../../shared/checkpoint/index.ts';
import { recoverCheckpointFolder, writeCheckpointFolder } from '../../../sampler/node/checkpoint-folder.ts';
import { folderSource } from '../../../sampler/node/folder-source.ts';
import { bits, randomTensor, sampleCheckpoint, sampleMeta, sampleTensors } from '../../shared/checkpoint/fixtures.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'medsynth-ckpt-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function otherCheckpoint() {
  return encodeCheckpoint(new Map([['only', randomTensor([4, 4], 77)]]), { ...sampleMeta(), name: 'other' }, { quantization: 'fp16' });
}

describe('writeCheckpointFolder + folderSource', () => {
  it('writes a checkpoint and loads it back through the folder source, with progress', async () => {
    const { files, manifest } = await sampleCheckpoint('fp32', 700);
    const dir = join(root, 'models', 'tiny');
    await writeCheckpointFolder(dir, files);
    expect((await readdir(dir)).sort()).toEqual([...files.keys()].sort());
    expect(await readdir(join(root, 'models'))).toEqual(['tiny']);

    const loads: number[] = [];
    const loaded = await loadCheckpoint(folderSource(dir), { onProgress: (p) => loads.push(p.loaded) });
    expect(loaded.manifest).toEqual(manifest);
    for (const [name, t] of sampleTensors()) expect(bits(loaded.tensors.get(name)!.data)).toEqual(bits(t.data));
    expect(loads.at(-1)).toBe(manifest.shards.reduce((a, s) => a + s.bytes, 0));
  });

  it('replaces an existing checkpoint atomically and leaves no temporary folders', async () => {
    const dir = join(root, 'm');
    await writeCheckpointFolder(dir, (await sampleCheckpoint('fp32', 700)).files);
    const next = await otherCheckpoint();
    await writeCheckpointFolder(dir, next.files);
    expect(await readdir(root)).toEqual(['m']);
    expect((await readdir(dir)).sort()).toEqual([...next.files.keys()].sort()); // no stale shards from the old one
    const loaded = await loadCheckpoint(folderSource(dir));
    expect(loaded.manifest.name).toBe('other');
    expect([...loaded.tensors.keys()]).toEqual(['only']);
  });

  it('rejects a file name with a path in it before touching anything', async () => {
    const dir = join(root, 'm');
    const { files } = await sampleCheckpoint('fp32');
    await writeCheckpointFolder(dir, files);
    const evil = new Map(files);
    evil.set('../x', new Uint8Array([1]));
    await expect(writeCheckpointFolder(dir, evil)).rejects.toThrow(CheckpointError);
    await expect(writeCheckpointFolder(dir, evil)).rejects.toThrow(/cannot write: file name "\.\.\/x" is not a plain name/);
    expect(await readdir(root)).toEqual(['m']);
    expect((await loadCheckpoint(folderSource(dir))).manifest.name).toBe('tiny-test');
  });

  it('a failure mid-write leaves the previous checkpoint intact and no temporary folder behind', async () => {
    const dir = join(root, 'm');
    const { files, manifest } = await sampleCheckpoint('fp32', 700);
    await writeCheckpointFolder(dir, files);
    const next = await otherCheckpoint();
    const failing = new Map(next.files);
    // A legal name the file system refuses (NAME_MAX is 255): fails after other files were written.
    failing.set('z'.repeat(300), new Uint8Array([1, 2, 3]));
    await expect(writeCheckpointFolder(dir, failing)).rejects.toThrow(/ENAMETOOLONG|name too long/i);
    expect(await readdir(root)).toEqual(['m']);
    const loaded = await loadCheckpoint(folderSource(dir));
    expect(loaded.manifest).toEqual(manifest);
  });

  it('refuses to replace something that is not a folder', async () => {
    const path = join(root, 'file');
    await writeFile(path, 'x');
    await expect(writeCheckpointFolder(path, (await sampleCheckpoint()).files)).rejects.toThrow(/not a folder/);
    expect((await readdir(root)).sort()).toEqual(['file']);
  });

  it('needs a manifest.json', async () => {
    await expect(writeCheckpointFolder(join(root, 'm'), new Map([['weights-00000.msgpack', new Uint8Array(1)]]))).rejects.toThrow(/no manifest\.json/);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('folderSource errors', () => {
  it('a missing file names the path and is flagged missing', async () => {
    const src = folderSource(root);
    const err = await src.read('weights-00000.msgpack').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).missing).toBe(true);
    expect((err as Error).message).toBe(`${join(root, 'weights-00000.msgpack')}: file not found`);
  });

  it('a missing shard in a folder checkpoint', async () => {
    const dir = join(root, 'm');
    const { files } = await sampleCheckpoint('fp32', 700);
    const partial = new Map(files);
    partial.delete('weights-00001.msgpack');
    await writeCheckpointFolder(dir, partial);
    await expect(loadCheckpoint(folderSource(dir))).rejects.toThrow(
      new RegExp(`^${dir}/weights-00001\\.msgpack: missing shard weights-00001\\.msgpack \\(file not found\\)$`),
    );
  });

  it('refuses files over maxBytes before reading them, and traversal in names', async () => {
    await writeFile(join(root, 'big.bin'), new Uint8Array(1000));
    const src = folderSource(root);
    await expect(src.read('big.bin', undefined, 999)).rejects.toThrow(/big\.bin: file is 1000 bytes, more than the expected 999/);
    expect((await src.read('big.bin', undefined, 1000)).length).toBe(1000);
    await expect(src.read('../etc/passwd')).rejects.toThrow(/not a plain name/);
    await mkdir(join(root, 'sub'));
    await expect(src.read('sub')).rejects.toThrow(/sub: not a regular file/);
  });
});

describe('recoverCheckpointFolder: every state a kill mid-write can leave', () => {
  /** Lays out the folders a write would have left at one instant, from real checkpoints. */
  async function layout(parts: { target?: 'old' | 'new'; old?: boolean; tmp?: 'complete' | 'partial' }) {
    const oldFiles = (await sampleCheckpoint('fp32', 700)).files;
    const newFiles = (await otherCheckpoint()).files;
    const dir = join(root, 'checkpoint');
    const put = async (folder: string, files: ReadonlyMap<string, Uint8Array>, withManifest: boolean) => {
      await mkdir(folder);
      for (const [name, bytes] of files) if (withManifest || name !== 'manifest.json') await writeFile(join(folder, name), bytes);
      if (!withManifest) await writeFile(join(folder, 'manifest.json.part'), '{"format": "medsynth-check'); // cut short
    };
    if (parts.target) await put(dir, parts.target === 'old' ? oldFiles : newFiles, true);
    if (parts.old) await put(`${dir}.old-0123456789ab`, oldFiles, true);
    if (parts.tmp) await put(`${dir}.tmp-0123456789ab`, newFiles, parts.tmp === 'complete');
    return dir;
  }
  const nameOf = async (dir: string) => (await loadCheckpoint(folderSource(dir))).manifest.name;
  const oldName = sampleMeta().name;

  it.each([
    ['filling the tmp folder (manifest not yet in)', { target: 'old', tmp: 'partial' }, (): string => oldName],
    ['tmp folder complete, nothing switched yet', { target: 'old', tmp: 'complete' }, (): string => oldName],
    ['old moved aside, new not yet in', { old: true, tmp: 'complete' }, (): string => 'other'],
    ['new in place, old not yet removed', { target: 'new', old: true }, (): string => 'other'],
  ] as const)('%s: a loadable checkpoint and no leftovers', async (_, parts, expected) => {
    const dir = await layout(parts);
    await recoverCheckpointFolder(dir);
    expect(await nameOf(dir)).toBe(expected());
    expect(await readdir(root)).toEqual(['checkpoint']);
  });

  it('falls back to the moved-aside folder when the tmp one never completed', async () => {
    const dir = await layout({ old: true, tmp: 'partial' });
    const said = await recoverCheckpointFolder(dir);
    expect(await nameOf(dir)).toBe(oldName);
    expect(said.join('\n')).toMatch(/recovered .*checkpoint from .*\.old-0123456789ab/);
    expect(await readdir(root)).toEqual(['checkpoint']);
  });

  it('a later write cleans what a killed one left', async () => {
    const dir = await layout({ target: 'old', tmp: 'partial', old: true });
    await writeCheckpointFolder(dir, (await otherCheckpoint()).files);
    expect(await nameOf(dir)).toBe('other');
    expect(await readdir(root)).toEqual(['checkpoint']);
  });
});
