// Before anything is uploaded, the checkpoint is read back with the same
// hostile-input loader readers use (every shard's length and sha256, every
// tensor decoded), so a corrupt checkpoint is never published. What gets
// uploaded is then pinned to what was verified: the manifest's exact bytes,
// and shards carrying the manifest's sha256 for the store to check.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CheckpointError, loadCheckpoint, MANIFEST_FILE, type CheckpointSource, type Manifest } from '../../shared/checkpoint/index.ts';
import { folderSource } from '../../sampler/node/folder-source.ts';

/** One file to upload; `open` is called once per attempt, so a retry gets fresh bytes. */
export interface PublishObject {
  file: string;
  bytes: number;
  /** Lowercase hex. */
  sha256: string;
  contentType: string;
  open(): Promise<Readable>;
}

export interface VerifiedCheckpoint {
  manifest: Manifest;
  /** Shards in manifest order, then manifest.json: the order they must be uploaded in. */
  objects: PublishObject[];
}

/** A source that remembers the manifest bytes the loader verified. */
function capturingManifest(source: CheckpointSource): { source: CheckpointSource; manifestBytes: () => Uint8Array } {
  let captured: Uint8Array | undefined;
  return {
    source: {
      location: source.location,
      async read(file, onBytes, maxBytes) {
        const bytes = await source.read(file, onBytes, maxBytes);
        if (file === MANIFEST_FILE) captured = bytes;
        return bytes;
      },
    },
    manifestBytes: () => captured!,
  };
}

/** Streams a shard from disk, refusing it if its size changed since it was verified. */
function shardObject(dir: string, file: string, bytes: number, sha256: string): PublishObject {
  const path = join(dir, file);
  return {
    file,
    bytes,
    sha256,
    contentType: 'application/octet-stream',
    async open() {
      const size = (await stat(path)).size;
      if (size !== bytes) throw new CheckpointError(path, `changed since it was verified: ${size} bytes, the manifest declares ${bytes}`);
      return createReadStream(path);
    },
  };
}

/** Verifies the checkpoint folder `dir` (throws CheckpointError naming the file) and lists what to upload. */
export async function verifyCheckpoint(dir: string): Promise<VerifiedCheckpoint> {
  const { source, manifestBytes } = capturingManifest(folderSource(dir));
  const { manifest } = await loadCheckpoint(source);
  const json = manifestBytes();
  const objects = manifest.shards.map((s) => shardObject(source.location, s.file, s.bytes, s.sha256));
  objects.push({
    file: MANIFEST_FILE,
    bytes: json.length,
    sha256: createHash('sha256').update(json).digest('hex'),
    contentType: 'application/json; charset=utf-8',
    open: async () => Readable.from([json]),
  });
  return { manifest, objects };
}
