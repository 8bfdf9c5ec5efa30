// `medsynth publish`: uploads a verified checkpoint folder to R2 as
// `<model id>/manifest.json` and `<model id>/weights-NNNNN.msgpack`, the keys
// the Worker serves. Remote via R2's S3 API (credentials from the
// environment, never argv, which `ps` shows); --local into the bucket
// `wrangler dev` serves.
//   medsynth publish <checkpoint dir> --bucket <name> [--prefix <model id>] [--local] [--persist-to <dir>]
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../../sampler/cli.ts';
import { isModelId } from '../storage.ts';
import { publishCheckpoint, type PublishSummary } from '../publish/publish.ts';
import { S3ConfigError, s3OptionsFromEnv, s3Target } from '../publish/s3-target.ts';
import { wranglerTarget } from '../publish/wrangler-target.ts';

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
  if (positionals.length !== 1) throw new UsageError('publish takes one checkpoint folder');
  const dir = positionals[0];
  const { bucket } = values;
  if (!bucket) throw new UsageError('--bucket <name> is required (wrangler.toml names the Worker\'s: bucket_name)');
  if (!BUCKET_RE.test(bucket)) throw new UsageError(`--bucket must be 3-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit; got "${bucket}"`);
  const id = values.prefix ?? basename(resolve(dir));
  if (!isModelId(id)) {
    const from = values.prefix === undefined ? `the folder name "${id}" is not a valid model id; pass --prefix` : `--prefix "${id}" is not a valid model id`;
    throw new UsageError(`${from} (1-64 characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit)`);
  }
  if (values['persist-to'] !== undefined && !values.local) throw new UsageError('--persist-to only applies with --local');

  let target;
  try {
    target = values.local ? wranglerTarget({ bucket, persistTo: values['persist-to'] }) : s3Target(s3OptionsFromEnv(bucket, env));
  } catch (e) {
    if (e instanceof S3ConfigError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
  return publishCheckpoint(dir, id, target, log);
}
