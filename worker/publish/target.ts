// Where `medsynth publish` puts objects: R2 over its S3 API, or the local
// bucket `wrangler dev` serves. Both take keys `<model id>/<file>`.
import type { PublishObject } from './verify.ts';

export interface PublishTarget {
  /** For messages, e.g. "r2://medsynth-models at https://...". */
  where: string;
  /** Uploads one object; rejects with an Error naming the key and what failed. */
  put(key: string, obj: PublishObject): Promise<void>;
}
