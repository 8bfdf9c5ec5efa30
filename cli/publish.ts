// `medsynth publish`: uploads a verified checkpoint folder to R2 as
// `<model id>/manifest.json` and `<model id>/weights-NNNNN.msgpack`, the keys
// the Worker serves. Remote via R2's S3 API (credentials from the
// environment, never argv, which `ps` shows); --local into the bucket
// `wrangler dev` serves.
//   medsynth publish <checkpoint dir> --bucket <name> [--prefix <model id>] [--local] [--persist-to <dir>]
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BadInputError } from '../shared/errors.ts';
import { isModelId } from '../worker/storage.ts';
import { publishCheckpoint, type PublishSummary } from '../worker/publish/publish.ts';
import { s3OptionsFromEnv, s3Target } from '../worker/publish/s3-target.ts';
import { wranglerTarget } from '../worker/publish/wrangler-target.ts';

/** R2's rule: 3-63 of a-z, 0-9 and "-", starting and ending with a letter or digit. */
const BUCKET_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export async function publish(args: string[], log: (s: string) => void, env = process.env): Promise<PublishSummary> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      local: { type: 'boolean' },
      'persist-to': { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new BadInputError('publish takes one checkpoint folder');
  const dir = positionals[0];
  const { bucket } = values;
  if (!bucket) throw new BadInputError('--bucket <name> is required (wrangler.toml names the Worker\'s: bucket_name)');
  if (!BUCKET_RE.test(bucket)) throw new BadInputError(`--bucket must be 3-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit; got "${bucket}"`);
  const id = values.prefix ?? basename(resolve(dir));
  if (!isModelId(id)) {
    const from = values.prefix === undefined ? `the folder name "${id}" is not a valid model id; pass --prefix` : `--prefix "${id}" is not a valid model id`;
    throw new BadInputError(`${from} (1-64 characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit)`);
  }
  if (values['persist-to'] !== undefined && !values.local) throw new BadInputError('--persist-to only applies with --local');

  // S3ConfigError (missing credentials) is bad input of its own kind.
  const target = values.local ? wranglerTarget({ bucket, persistTo: values['persist-to'] }) : s3Target(s3OptionsFromEnv(bucket, env));
  return publishCheckpoint(dir, id, target, log);
}
