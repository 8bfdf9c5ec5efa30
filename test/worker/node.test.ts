// The Node entry end to end over loopback: a models folder on disk, a real
// HTTP server on an ephemeral port, real tfjs sampling (cpu backend, 16x16,
// 2 steps), faults that must answer JSON while the server keeps serving,
// and a clean shutdown, in process and as a real `serve` process.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CheckpointError } from '../../shared/checkpoint/index.ts';
import { encodePng } from '../../sampler/encode/index.ts';
import { generate } from '../../sampler/generate.ts';
import { loadModel } from '../../sampler/load.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { urlSource } from '../../sampler/url-source.ts';
import { fromBase64 } from '../../worker/http/base64.ts';
import { readSse } from '../../worker/http/sse.ts';
import { startServer, type RunningServer } from '../../worker/node/start-server.ts';
import { serve } from '../../cli/serve.ts';
import { tinyCheckpointFiles } from './fixtures.ts';

const TSX_CLI = createRequire(import.meta.url).resolve('tsx/cli');

let dir: string;
let server: RunningServer;
let tiny: Map<string, Uint8Array>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medsynth-node-'));
  tiny = await tinyCheckpointFiles({ shardBytes: 64 * 1024 });
  const corrupt = new Map(tiny);
  const shard = corrupt.get('weights-00000.msgpack')!.slice();
  shard[shard.length >> 1] ^= 0xff;
  corrupt.set('weights-00000.msgpack', shard);
  await writeCheckpointFolder(join(dir, 'tiny'), tiny);
  await writeCheckpointFolder(join(dir, 'corrupt'), corrupt);
  // Parameters scaled to 1e30 overflow float32 inside the network: generation fails after its steps.
  await writeCheckpointFolder(join(dir, 'exploding'), await tinyCheckpointFiles({ scale: 1e30 }));
  server = await startServer({ modelsDir: dir, port: 0, host: '127.0.0.1', backend: 'cpu', shutdownGraceMs: 2000 });
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const api = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
const sample = (id: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  api(`/v1/models/${id}/samples`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body), signal });

describe('Node server', () => {
  it('starts on loopback with the backend it reports', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.backend.name).toBe('cpu');
    expect(await (await api('/healthz')).json()).toEqual({ ok: true, sampling: true, active: 0, queued: 0 });
  });

  it("answers what node's HTTP parser refuses (huge headers, a malformed request, a TLS hello) with a JSON error", async () => {
    const { port } = new URL(server.url);
    /** Raw bytes to the server; resolves with everything it answered once it closes the connection. */
    const raw = (bytes: string | Buffer) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(bytes));
        let got = '';
        socket.on('data', (d) => (got += d.toString('latin1')));
        socket.on('close', () => resolve(got));
        socket.on('error', reject);
      });
    const cases: [string | Buffer, number][] = [
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 431],
      ['GARBAGE\r\n\r\n', 400],
      [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), 400], // a TLS ClientHello
    ];
    for (const [bytes, status] of cases) {
      const answer = await raw(bytes);
      expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(answer).toMatch(/\r\nContent-Type: application\/json\r\n/);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { message: string } };
      expect(body.error.message.length).toBeGreaterThan(10);
    }
  });

  it('lists the models in the folder', async () => {
    const { models } = (await (await api('/v1/models')).json()) as { models: { id: string; kind: string }[] };
    expect(models.map((m) => m.id)).toEqual(['corrupt', 'exploding', 'tiny']);
    expect(models.every((m) => m.kind === 'ddpm-unet2d')).toBe(true);
  });

  it('serves shards byte-identical with the manifest sha256 as a strong ETag, 304 and 206', async () => {
    const manifest = JSON.parse(new TextDecoder().decode(tiny.get('manifest.json')));
    for (const { file, sha256 } of manifest.shards as { file: string; sha256: string }[]) {
      const res = await api(`/v1/models/tiny/${file}`);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(tiny.get(file));
      expect(res.headers.get('etag')).toBe(`"sha256-${sha256}"`);
      expect((await api(`/v1/models/tiny/${file}`, { headers: { 'If-None-Match': `"sha256-${sha256}"` } })).status).toBe(304);
      const part = await api(`/v1/models/tiny/${file}`, { headers: { Range: 'bytes=-10' } });
      expect(part.status).toBe(206);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(tiny.get(file)!.subarray(-10));
    }
    expect((await api('/v1/models/tiny/..%2F..%2Fetc%2Fpasswd')).status).toBe(404);
  });

  it('feeds the checkpoint loader over HTTP, which also catches the corrupt shard', async () => {
    const model = await loadModel(urlSource(`${server.url}/v1/models/tiny`));
    model.dispose();
    const err = await loadModel(urlSource(`${server.url}/v1/models/corrupt`)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/sha256 mismatch/);
  });

  it('samples a PNG identical to the library run on the same model and seed', async () => {
    const res = await sample('tiny', { steps: 2, seed: 5 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBe('inline; filename="tiny-seed5.png"');
    const png = new Uint8Array(await res.arrayBuffer());
    const img = decode(png);
    expect([img.width, img.height, img.channels]).toEqual([16, 16, 1]);

    const model = await loadModel(join(dir, 'tiny'));
    try {
      const { images } = await generate(model, { steps: 2, seed: 5, sampler: 'ddim' });
      expect(png).toEqual(encodePng(images[0]));
    } finally {
      model.dispose();
    }
  });

  it('with a thread pool: the same PNG as the library, and concurrent requests run at once', async () => {
    const pooled = await startServer({ modelsDir: dir, port: 0, host: '127.0.0.1', backend: 'cpu', threads: 2, shutdownGraceMs: 2000 });
    try {
      const post = (body: unknown) =>
        fetch(`${pooled.url}/v1/models/tiny/samples`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const [a, b] = await Promise.all([post({ steps: 2, seed: 5 }), post({ steps: 2, seed: 6, count: 3 })]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const model = await loadModel(join(dir, 'tiny'));
      try {
        const { images } = await generate(model, { steps: 2, seed: 5, sampler: 'ddim' });
        expect(new Uint8Array(await a.arrayBuffer())).toEqual(encodePng(images[0]));
      } finally {
        model.dispose();
      }
      const bad = await post({ steps: 2, label: 'zebra' });
      expect(bad.status).toBe(422);
    } finally {
      await pooled.close();
    }
  });

  it('answers NIfTI and JSON outputs, and streams progress as SSE', async () => {
    const nifti = await sample('tiny', { steps: 2, seed: 1, output: 'nifti' });
    expect(nifti.headers.get('content-type')).toBe('application/gzip');
    expect([...new Uint8Array(await nifti.arrayBuffer()).subarray(0, 2)]).toEqual([0x1f, 0x8b]);

    const json = (await (await sample('tiny', { steps: 2, seed: 1, count: 2, output: 'json' })).json()) as any;
    expect(json).toMatchObject({ model: 'tiny', backend: 'cpu', sampler: 'ddim', steps: 2, seed: 1 });
    expect(json.images).toHaveLength(2);
    const values = new Float32Array(fromBase64(json.images[0].data).buffer);
    expect(json.images[0].shape).toEqual([16, 16, 1]);
    expect(values.length).toBe(256);
    expect(values.every(Number.isFinite)).toBe(true);

    const events = [];
    for await (const e of readSse((await sample('tiny', { steps: 2, seed: 1 }, { Accept: 'text/event-stream' })).body!)) events.push(e);
    expect(events.map((e) => e.event)).toEqual(['progress', 'progress', 'result']);
    expect(JSON.parse(events[2].data).contentType).toBe('image/png');
  });

  it('answers 422 for what only the model can judge (steps beyond its schedule)', async () => {
    const res = await sample('tiny', { steps: 101 });
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      error: { message: 'invalid sampling request: steps: must be an integer in [1, 100], got 101', issues: [{ path: 'steps', message: 'must be an integer in [1, 100], got 101' }] },
    });
  });

  it('answers 500 JSON for a sampler failure mid-request and a corrupt checkpoint, and keeps serving', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const exploding = await sample('exploding', { steps: 2, seed: 1 });
      expect(exploding.status).toBe(500);
      expect(((await exploding.json()) as any).error.message).toMatch(/^sampling failed: generation produced \d+ non-finite values/);

      const corrupt = await sample('corrupt', { steps: 2 });
      expect(corrupt.status).toBe(500);
      const body = (await corrupt.json()) as any;
      expect(body.error.message).toMatch(/^model "corrupt" could not be loaded: sha256 mismatch/);
      expect(JSON.stringify(body)).not.toContain(dir); // no server paths

      expect((await sample('tiny', { steps: 2, seed: 5 })).status).toBe(200);
    } finally {
      spy.mockRestore();
    }
  });

  it('cancels a generation when its client disconnects', async () => {
    const ctrl = new AbortController();
    const res = await sample('tiny', { steps: 100, seed: 1 }, { Accept: 'text/event-stream' }, ctrl.signal);
    const reader = res.body!.getReader();
    await reader.read(); // the first progress event
    const t1 = performance.now();
    await reader.read();
    const perStep = performance.now() - t1;
    ctrl.abort();
    const aborted = performance.now();
    await vi.waitFor(async () => expect(await (await api('/healthz')).json()).toMatchObject({ active: 0 }), { timeout: 10_000, interval: 10 });
    // Stopped within a few steps, far short of the 98 left (the slot is freed when the run ends).
    expect(performance.now() - aborted).toBeLessThan(Math.max(30 * perStep, 200));
    expect((await sample('tiny', { steps: 2 })).status).toBe(200);
  });

  it('cancels a plain (non-SSE) generation when its client disconnects', async () => {
    // A model whose schedule takes 10,000 steps (the most a schedule may have): asked for all of them, a run
    // left going holds its slot for about ten minutes, so the bounded wait for the slot to free fails unless it was cancelled.
    const long = new Map(tiny);
    const manifest = JSON.parse(new TextDecoder().decode(tiny.get('manifest.json')));
    long.set('manifest.json', new TextEncoder().encode(JSON.stringify({ ...manifest, schedule: { kind: 'cosine', T: 10_000 } })));
    await writeCheckpointFolder(join(dir, 'long-models', 'long'), long);
    const own = await startServer({ modelsDir: join(dir, 'long-models'), port: 0, host: '127.0.0.1', backend: 'cpu', config: { maxSteps: 10_000 }, shutdownGraceMs: 1000 });
    try {
      const health = async () => (await (await fetch(`${own.url}/healthz`)).json()) as { active: number };
      const ctrl = new AbortController();
      const answer = fetch(`${own.url}/v1/models/long/samples`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"steps":10000}', signal: ctrl.signal }).catch((e: Error) => e);
      await vi.waitFor(async () => expect(await health()).toMatchObject({ active: 1 }), { timeout: 60_000, interval: 5 });
      ctrl.abort();
      expect(await answer).toMatchObject({ name: 'AbortError' });
      await vi.waitFor(async () => expect(await health()).toMatchObject({ active: 0 }), { timeout: 60_000, interval: 10 });
    } finally {
      await own.close();
    }
  });
});

describe('medsynth serve', () => {
  it('serves the embedded default model by default, and closes', async () => {
    const lines: string[] = [];
    const sigtermListeners = process.listenerCount('SIGTERM');
    const running = await serve(['--port', '0', '--host', '127.0.0.1', '--backend', 'cpu'], (s) => lines.push(s));
    try {
      expect(lines).toEqual(['backend: cpu', expect.stringMatching(new RegExp(`^serving .*models at ${running.url.replace(/\./g, '\\.')} \\(sampling on \\d+ threads?\\)$`))]);
      const { models } = (await (await fetch(`${running.url}/v1/models`)).json()) as { models: { id: string; name: string }[] };
      const { name } = JSON.parse(await readFile(new URL('../../models/default/manifest.json', import.meta.url), 'utf8')) as { name: string };
      expect(models).toContainEqual(expect.objectContaining({ id: 'default', name }));
    } finally {
      await running.close();
    }
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    expect(process.listenerCount('SIGTERM')).toBe(sigtermListeners);
  });

  it('as a process: starts, lists, samples a PNG, and exits 0 on SIGTERM', async () => {
    const code = "import('./cli/serve.ts').then((m) => m.serve(process.argv.slice(1), console.log))";
    const child = spawn(process.execPath, [TSX_CLI, '-e', code, '--', '--models', dir, '--port', '0', '--host', '127.0.0.1', '--backend', 'cpu'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, MEDSYNTH_API_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      await vi.waitFor(() => expect(out).toMatch(/serving .* at http:\/\/127\.0\.0\.1:\d+/), { timeout: 30_000, interval: 50 });
      const url = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
      expect(out).toMatch(/^backend: cpu$/m);
      const { models } = (await (await fetch(`${url}/v1/models`)).json()) as { models: { id: string; name: string }[] };
      expect(models.map((m) => m.id)).toEqual(['corrupt', 'exploding', 'tiny']);
      const res = await fetch(`${url}/v1/models/tiny/samples`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"steps":2,"seed":5}' });
      expect(res.status).toBe(200);
      const img = decode(new Uint8Array(await res.arrayBuffer()));
      expect([img.width, img.height]).toEqual([16, 16]);
    } finally {
      child.kill('SIGTERM');
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000); // a hang fails the test, it does not stall it
    expect(await exited).toBe(0);
    clearTimeout(killer);
    expect(out).toMatch(/SIGTERM: shutting down/);
  });

  it('takes its limits from flags and MEDSYNTH_* variables, a flag over its variable, and names a bad one', async () => {
    const key = 'k'.repeat(16);
    const env = { MEDSYNTH_MAX_STEPS: '50', MEDSYNTH_RATE_REQUESTS: '1', MEDSYNTH_API_KEY: key };
    const running = await serve(['--models', dir, '--port', '0', '--host', '127.0.0.1', '--backend', 'cpu', '--threads', '1', '--max-steps', '3'], () => {}, env);
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${running.url}/v1/models/tiny/samples`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    try {
      expect((await post('{"steps":2}')).status).toBe(401); // MEDSYNTH_API_KEY
      const tooMany = await post('{"steps":4}', { Authorization: `Bearer ${key}` });
      expect(((await tooMany.json()) as { error: { issues: unknown[] } }).error.issues).toEqual([{ path: 'steps', message: 'Too big: expected number to be <=3' }]);
      expect((await post('{"steps":2}', { Authorization: `Bearer ${key}` })).status).toBe(429); // one request per window
    } finally {
      await running.close();
    }
    await expect(serve(['--models', dir], () => {}, { MEDSYNTH_MAX_QUEUED: 'many' })).rejects.toThrow(/^MEDSYNTH_MAX_QUEUED must be a non-negative integer, got "many"$/);
    await expect(serve(['--models', dir, '--max-count', '17'], () => {})).rejects.toThrow(/^--max-count: Too big: expected number to be <=16$/);
  });

  it('rejects a bad port as a usage error', async () => {
    await expect(serve(['--port', 'http'], () => {})).rejects.toThrow(/--port must be an integer/);
    await expect(serve([], () => {}, { PORT: 'http' })).rejects.toThrow(/^PORT must be an integer in \[0, 65535\], got "http"/);
  });

  it('listens on $PORT when --port is not given (hosting platforms set it), --port first', async () => {
    const free = async () => {
      const s = createNetServer();
      await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
      const port = (s.address() as { port: number }).port;
      await new Promise((res) => s.close(res));
      return port;
    };
    const [envPort, flagPort] = [await free(), await free()];
    for (const [args, expected] of [[[], envPort], [['--port', String(flagPort)], flagPort]] as const) {
      const running = await serve([...args, '--host', '127.0.0.1', '--backend', 'cpu', '--threads', '1'], () => {}, { PORT: String(envPort) });
      try {
        expect(new URL(running.url).port).toBe(String(expected));
        expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
      } finally {
        await running.close();
      }
    }
  });
});
