// Publishes a checkpoint folder as `<id>/<file>` objects: verified first,
// then the shards, then manifest.json last, so a reader that sees the
// manifest finds every shard it names (and a failed run leaves any earlier
// manifest in place). Shards from an older, larger version stay behind
// unreferenced; nothing is deleted.
import { isModelId } from '../storage.ts';
import type { PublishTarget } from './target.ts';
import { verifyCheckpoint } from './verify.ts';

export interface PublishSummary {
  id: string;
  /** Keys in upload order. */
  keys: string[];
  bytes: number;
}

export async function publishCheckpoint(dir: string, id: string, target: PublishTarget, log: (s: string) => void): Promise<PublishSummary> {
  if (!isModelId(id)) throw new Error(`model id "${id}" is not 1-64 characters of a-z, 0-9, ".", "_", "-" starting with a letter or digit`);
  const { manifest, objects } = await verifyCheckpoint(dir);
  log(`verified ${dir}: "${manifest.name}" (${manifest.kind}), ${manifest.shards.length} shard(s)`);
  const keys: string[] = [];
  let bytes = 0;
  for (const obj of objects) {
    const key = `${id}/${obj.file}`;
    await target.put(key, obj);
    log(`uploaded ${key} (${obj.bytes} bytes)`);
    keys.push(key);
    bytes += obj.bytes;
  }
  log(`published ${id} to ${target.where}`);
  return { id, keys, bytes };
}
