// `medsynth publish` end to end. Remote: a loopback HTTP server stands in
// for R2's S3 endpoint (R2_ENDPOINT) and records every PUT, so the test sees
// exactly what R2 would: bytes, order, checksums and the SigV4 signature.
// Local: wrangler puts into a temp local bucket, which the bundled Worker
// (miniflare, the persist layout `wrangler dev` uses) serves to the loader.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../shared/checkpoint/index.ts';
import { BadInputError } from '../../shared/errors.ts';
import { loadModel } from '../../sampler/load.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { bundleWorker } from '../../worker/bundle.ts';
import { publish } from '../../cli/publish.ts';
import { tinyCheckpointFiles } from './fixtures.ts';
import { sigV4Signature } from '../helpers/sigv4.ts';

interface Put {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const BUCKET = 'medsynth-models';
const KEY_ID = 'AKIDTESTPUBLISH';
const SECRET = 'test-secret-access-key';

let tmp: string;
let tiny: Map<string, Uint8Array>;
let s3: Server;
let puts: Put[];
/** How the fake S3 endpoint answers the n-th PUT (0-based); default 200. */
let answer: (n: number) => { status: number; body?: string };
let env: NodeJS.ProcessEnv;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b);
const dirOf = (name: string) => join(tmp, 'models', name);
const quiet = () => {};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'medsynth-publish-'));
  // Small shards: several objects, so the order matters.
  tiny = await tinyCheckpointFiles({ shardBytes: 64 * 1024 });
  await writeCheckpointFolder(dirOf('tiny'), tiny);
  const corrupt = new Map(tiny);
  const shard = tiny.get('weights-00001.msgpack')!.slice();
  shard[shard.length >> 1] ^= 0x01;
  corrupt.set('weights-00001.msgpack', shard);
  await writeCheckpointFolder(dirOf('corrupt'), corrupt);

  s3 = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { status, body } = answer(puts.length);
      puts.push({ path: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status, body ? { 'Content-Type': 'application/xml' } : {}).end(body);
    });
  });
  await new Promise<void>((r) => s3.listen(0, '127.0.0.1', r));
  env = { R2_ENDPOINT: `http://127.0.0.1:${(s3.address() as AddressInfo).port}`, R2_ACCESS_KEY_ID: KEY_ID, R2_SECRET_ACCESS_KEY: SECRET };
});

beforeEach(() => {
  puts = [];
  answer = () => ({ status: 200 });
});

afterAll(async () => {
  await new Promise((r) => s3?.close(r));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Recomputes the SigV4 signature over what arrived, independently of aws4fetch: it must match, so nothing was changed after signing. */
function expectedSignature(put: Put): string {
  const signed = /SignedHeaders=([^,]+)/.exec(put.headers.authorization!)![1].split(';');
  return sigV4Signature({
    method: 'PUT',
    path: put.path,
    headers: Object.fromEntries(signed.map((h) => [h, String(put.headers[h])])),
    payloadHash: String(put.headers['x-amz-content-sha256']),
    amzDate: String(put.headers['x-amz-date']),
    region: 'auto',
    service: 's3',
    secretAccessKey: SECRET,
  });
}

describe('the SigV4 oracle of these tests', () => {
  it("reproduces the AWS documentation's GET Object example", () => {
    // "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk", Example: GET Object.
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(
      sigV4Signature({
        method: 'GET',
        path: '/test.txt',
        headers: { Host: 'examplebucket.s3.amazonaws.com', Range: 'bytes=0-9', 'x-amz-content-sha256': empty, 'x-amz-date': '20130524T000000Z' },
        payloadHash: empty,
        amzDate: '20130524T000000Z',
        region: 'us-east-1',
        service: 's3',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      }),
    ).toBe('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });
});

describe('publish to R2 (S3 API)', () => {
  it('uploads every object byte-identical, shards first and manifest.json last, checksummed and signed', async () => {
    const summary = await publish([dirOf('tiny'), '--bucket', BUCKET], quiet, env);
    const shards = [...tiny.keys()].filter((f) => f !== 'manifest.json').sort();
    expect(shards.length).toBeGreaterThan(1);
    const files = [...shards, 'manifest.json'];
    expect(puts.map((p) => p.path)).toEqual(files.map((f) => `/${BUCKET}/tiny/${f}`));
    expect(summary.keys).toEqual(files.map((f) => `tiny/${f}`));

    for (const [i, put] of puts.entries()) {
      const file = files[i];
      const bytes = tiny.get(file)!;
      expect(put.body.equals(bytes), file).toBe(true);
      expect(put.headers['content-length']).toBe(String(bytes.length));
      expect(put.headers['content-type']).toBe(file === 'manifest.json' ? 'application/json; charset=utf-8' : 'application/octet-stream');
      expect(put.headers['x-amz-checksum-sha256'], file).toBe(sha256(put.body).digest('base64'));
      expect(put.headers['x-amz-content-sha256'], file).toBe(sha256(put.body).digest('hex'));
      const auth = put.headers.authorization!;
      const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
      expect(m, auth).not.toBeNull();
      expect(m![1]).toBe(`${KEY_ID}/${String(put.headers['x-amz-date']).slice(0, 8)}/auto/s3/aws4_request`);
      expect(m![2].split(';')).toEqual(expect.arrayContaining(['host', 'x-amz-checksum-sha256', 'x-amz-content-sha256', 'x-amz-date']));
      expect(m![3]).toBe(expectedSignature(put));
    }
  });

  it('stops with the status and S3 error code on a 403, without retrying or uploading the manifest', async () => {
    answer = () => ({ status: 403, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>' });
    const err = await publish([dirOf('tiny'), '--bucket', BUCKET, '--prefix', 'brain.v2'], quiet, env).catch((e) => e);
    expect(err.message).toBe(`PUT ${BUCKET}/brain.v2/weights-00000.msgpack failed: HTTP 403 AccessDenied: Access Denied`);
    expect(puts.map((p) => p.path)).toEqual([`/${BUCKET}/brain.v2/weights-00000.msgpack`]);
  });

  it('retries a 503 with fresh bytes, then goes on', async () => {
    answer = (n) => (n === 0 ? { status: 503, body: '<Error><Code>SlowDown</Code></Error>' } : { status: 200 });
    await publish([dirOf('tiny'), '--bucket', BUCKET], quiet, env);
    expect(puts[0].path).toBe(puts[1].path);
    expect(puts[1].body.equals(tiny.get('weights-00000.msgpack')!)).toBe(true);
    expect(puts.at(-1)!.path).toBe(`/${BUCKET}/tiny/manifest.json`);
  });

  it('names the missing environment variables before reading anything', async () => {
    const err = await publish([dirOf('tiny'), '--bucket', BUCKET], quiet, { R2_ACCESS_KEY_ID: KEY_ID }).catch((e) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect(err.message).toBe(
      'publishing to R2 needs R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY in the environment (missing: R2_ACCOUNT_ID, R2_SECRET_ACCESS_KEY); or use --local',
    );
    const badAccount = await publish([dirOf('tiny'), '--bucket', BUCKET], quiet, { R2_ACCOUNT_ID: 'evil.example/', R2_ACCESS_KEY_ID: KEY_ID, R2_SECRET_ACCESS_KEY: SECRET }).catch((e) => e);
    expect(badAccount.message).toMatch(/^R2_ACCOUNT_ID must be 32 hexadecimal digits/);
    expect(puts).toEqual([]);
  });

  it('refuses a corrupt checkpoint before uploading anything', async () => {
    const err = await publish([dirOf('corrupt'), '--bucket', BUCKET], quiet, env).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/corrupt\/weights-00001\.msgpack: sha256 mismatch/);
    const missing = await publish([join(tmp, 'nothing-here'), '--bucket', BUCKET], quiet, env).catch((e) => e);
    expect(missing.message).toMatch(/nothing-here\/manifest\.json: missing manifest\.json/);
    expect(puts).toEqual([]);
  });

  it('rejects bad arguments with usage errors naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [[dirOf('tiny')], /^--bucket <name> is required/],
      [[dirOf('tiny'), '--bucket', 'Bad_Bucket'], /^--bucket must be 3-63 characters/],
      [[dirOf('tiny'), '--bucket', BUCKET, '--prefix', '../up'], /^--prefix "\.\.\/up" is not a valid model id/],
      [[join(tmp, 'Models'), '--bucket', BUCKET], /^the folder name "Models" is not a valid model id; pass --prefix/],
      [[dirOf('tiny'), '--bucket', BUCKET, '--persist-to', tmp], /^--persist-to only applies with --local/],
      [['--bucket', BUCKET], /^publish takes one checkpoint folder/],
    ];
    for (const [args, message] of cases) {
      const err = await publish(args, quiet, env).catch((e) => e);
      expect(err, args.join(' ')).toBeInstanceOf(BadInputError);
      expect(err.message).toMatch(message);
    }
    expect(puts).toEqual([]);
  });
});

describe('publish --local', () => {
  it('puts the checkpoint where `wrangler dev` finds it: the Worker serves it and the loader reads it back', async () => {
    const state = join(tmp, 'state');
    const [bundle] = await Promise.all([
      bundleWorker(join(tmp, 'bundle')),
      publish([dirOf('tiny'), '--bucket', BUCKET, '--prefix', 'tiny-local', '--local', '--persist-to', state], quiet, {}),
    ]);
    const toml = await readFile(new URL('../../wrangler.toml', import.meta.url), 'utf8');
    const mf = new Miniflare({
      host: '127.0.0.1',
      port: 0,
      modules: true,
      modulesRoot: dirname(bundle),
      scriptPath: bundle,
      compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)![1],
      r2Buckets: { MODELS: BUCKET },
      // What `wrangler dev --persist-to <state>` gives miniflare.
      defaultPersistRoot: join(state, 'v3'),
    });
    try {
      const base = await mf.ready;
      for (const [file, bytes] of tiny) {
        const res = await fetch(new URL(`/v1/models/tiny-local/${file}`, base));
        expect(res.status, file).toBe(200);
        expect(new Uint8Array(await res.arrayBuffer()), file).toEqual(bytes);
      }
      const model = await loadModel(new URL('/v1/models/tiny-local', base).href);
      expect(model.manifest.name).toBe('tiny-mri');
      model.dispose();
    } finally {
      await mf.dispose();
    }
  });

  it("reports wrangler's own error on the first line", async () => {
    const err = await publish([dirOf('tiny'), '--bucket', BUCKET, '--local', '--persist-to', join(dirOf('tiny'), 'manifest.json')], quiet, {}).catch((e) => e);
    expect(err.message.split('\n')[0]).toMatch(/^wrangler r2 object put medsynth-models\/tiny\/weights-00000\.msgpack failed \(exit 1\): ENOTDIR/);
  });
});
