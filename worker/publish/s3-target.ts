// Uploads to R2 through its S3-compatible API, signed with SigV4 (aws4fetch).
// Every PUT carries the object's sha256 twice: as the signed payload hash
// (x-amz-content-sha256) and as x-amz-checksum-sha256, which R2 checks
// against the bytes it received and stores with the object. So shards stream
// from disk unbuffered: their hashes come from the verified manifest.
import { Readable } from 'node:stream';
import { BadInputError } from '../../shared/errors.ts';
import { AwsV4Signer } from 'aws4fetch';
import type { PublishObject } from './verify.ts';
import type { PublishTarget } from './target.ts';

const R2_ENV = ['R2_ACCOUNT_ID', 'R2_ACCESS_KEY_ID', 'R2_SECRET_ACCESS_KEY'] as const;

export interface S3Options {
  /** e.g. https://<account id>.r2.cloudflarestorage.com; objects go to <endpoint>/<bucket>/<key>. */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Attempts per object when the network fails or the store answers 5xx / 429. */
  attempts?: number;
  /** Per attempt. */
  timeoutMs?: number;
}

/** A configuration problem (missing or malformed environment): the CLI reports it as a usage error. */
export class S3ConfigError extends BadInputError {}

/** Options from R2_ACCOUNT_ID (or R2_ENDPOINT), R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY. */
export function s3OptionsFromEnv(bucket: string, env: NodeJS.ProcessEnv): S3Options {
  const needed = env.R2_ENDPOINT ? R2_ENV.slice(1) : R2_ENV;
  const missing = needed.filter((k) => !env[k]);
  if (missing.length) {
    throw new S3ConfigError(`publishing to R2 needs ${needed.join(', ')} in the environment (missing: ${missing.join(', ')}); or use --local`);
  }
  let endpoint: string;
  if (env.R2_ENDPOINT) {
    if (!/^https?:\/\/[^/]+\/?$/.test(env.R2_ENDPOINT)) throw new S3ConfigError(`R2_ENDPOINT must be an http(s) origin, got "${env.R2_ENDPOINT}"`);
    endpoint = env.R2_ENDPOINT.replace(/\/$/, '');
  } else {
    // It becomes a host name: only what Cloudflare issues (32 hex digits) gets there.
    if (!/^[0-9a-f]{32}$/i.test(env.R2_ACCOUNT_ID!)) throw new S3ConfigError('R2_ACCOUNT_ID must be 32 hexadecimal digits (the Cloudflare account id)');
    endpoint = `https://${env.R2_ACCOUNT_ID}.r2.cloudflarestorage.com`;
  }
  return { endpoint, bucket, accessKeyId: env.R2_ACCESS_KEY_ID!, secretAccessKey: env.R2_SECRET_ACCESS_KEY! };
}

/** "AccessDenied: Access Denied" from an S3 XML error body, or the start of whatever else came back. */
function s3Error(body: string): string {
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
  const code = tag('Code');
  if (code) return `${code}${tag('Message') ? `: ${tag('Message')}` : ''}`;
  return body.replace(/\s+/g, ' ').trim().slice(0, 200) || 'no error body';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function s3Target(opts: S3Options): PublishTarget {
  const { attempts = 3, timeoutMs = 300_000 } = opts;

  /** One signed PUT; resolves to undefined on success, else what went wrong and whether another attempt may help. */
  async function send(url: string, obj: PublishObject, data: Readable): Promise<{ message: string; retry: boolean } | undefined> {
    try {
      const { headers } = await new AwsV4Signer({
        method: 'PUT',
        url,
        headers: {
          'Content-Type': obj.contentType,
          'X-Amz-Content-Sha256': obj.sha256,
          'X-Amz-Checksum-Sha256': Buffer.from(obj.sha256, 'hex').toString('base64'),
        },
        accessKeyId: opts.accessKeyId,
        secretAccessKey: opts.secretAccessKey,
        service: 's3',
        region: 'auto',
      }).sign();
      // A streamed body needs its length up front: S3 refuses plain chunked uploads.
      headers.set('Content-Length', String(obj.bytes));
      const body = Readable.toWeb(data) as ReadableStream<Uint8Array>;
      // duplex is required by Node's fetch for a stream body; the DOM typings predate it.
      const res = await fetch(url, { method: 'PUT', headers, body, duplex: 'half', signal: AbortSignal.timeout(timeoutMs) } as RequestInit);
      const text = await res.text();
      if (res.ok) return undefined;
      return { message: `HTTP ${res.status} ${s3Error(text)}`, retry: res.status >= 500 || res.status === 429 };
    } catch (e) {
      const cause = (e as Error).cause instanceof Error ? `: ${((e as Error).cause as Error).message}` : '';
      return { message: `${(e as Error).message}${cause}`, retry: true };
    } finally {
      data.destroy();
    }
  }

  return {
    where: `r2://${opts.bucket} at ${opts.endpoint}`,
    async put(key, obj) {
      const url = `${opts.endpoint}/${opts.bucket}/${key}`;
      for (let attempt = 1; ; attempt++) {
        // Opened afresh per attempt (a sent stream is spent); a local file problem is not retried.
        const failure = await send(url, obj, await obj.open());
        if (!failure) return;
        if (!failure.retry || attempt >= attempts) {
          throw new Error(`PUT ${opts.bucket}/${key} failed${attempt > 1 ? ` after ${attempt} attempts` : ''}: ${failure.message}`);
        }
        await sleep(250 * 2 ** (attempt - 1));
      }
    },
  };
}
