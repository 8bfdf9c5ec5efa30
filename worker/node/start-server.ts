// The Node entry: the app over a local models folder, sampling server-side
// with tfjs on the best available backend. Only wiring lives here.
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { stat } from 'node:fs/promises';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { BadInputError } from '../../shared/errors.ts';
import { selectBackend, type BackendChoice, type BackendName } from '../../sampler/backend.ts';
import { createApp } from '../app.ts';
import { errorBody } from '../errors.ts';
import type { ServerConfigInput } from '../config.ts';
import { folderAssets } from '../demo/node-assets.ts';
import { folderStorage } from './folder-storage.ts';
import { localSampler } from './local-sampler.ts';

export interface StartOptions {
  /** A folder of checkpoint folders: each subfolder with a manifest.json is a model, named by the folder. */
  modelsDir: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Default "localhost"; "0.0.0.0" to serve other machines (e.g. a GPU box behind a Worker). */
  host?: string;
  /** Bearer key required for sampling. */
  apiKey?: string;
  /** Force a backend; otherwise tensorflow, onnxruntime, wasm, cpu, whichever initialises first. */
  backend?: BackendName;
  /** Limits (see worker/config.ts). */
  config?: ServerConfigInput;
  /** Models kept loaded at once (default 2). */
  maxLoadedModels?: number;
  /**
   * Sampler threads per loaded model (default 1: on the main thread). With
   * more, requests run on a thread pool, and config.maxConcurrent defaults
   * to this number so that many requests run at once.
   */
  threads?: number;
  /** The browser bundle served under /browser/ (default dist/web/browser, written by `npm run build:browser`). */
  browserDir?: string;
  /** On close, how long in-flight requests may finish before their connections are cut (default 10 s). */
  shutdownGraceMs?: number;
}

export interface RunningServer {
  url: string;
  backend: BackendChoice;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), frees the models. */
  close(): Promise<void>;
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const { modelsDir, port = 8787, host = 'localhost', shutdownGraceMs = 10_000 } = opts;
  const isDir = await stat(modelsDir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new BadInputError(`models folder ${modelsDir} does not exist or is not a folder`);
  const threads = opts.threads ?? 1;
  const backend = await selectBackend(opts.backend);
  const sampler = localSampler(modelsDir, { maxLoadedModels: opts.maxLoadedModels, threads, backend: backend.name });
  const app = createApp({
    storage: folderStorage(modelsDir),
    sampler,
    config: { maxConcurrent: threads, ...opts.config, ...(opts.apiKey === undefined ? {} : { apiKey: opts.apiKey }) },
    clientKey: (c) => getConnInfo(c).remote.address,
    assets: folderAssets(opts.browserDir),
  });

  // Without serverOptions.createServer the adapter makes a plain node:http server.
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // Requests node's HTTP parser refuses itself (headers over its limit, a malformed request line,
  // a TLS hello on a plain port) never reach the app: answer them in the app's JSON error shape too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (err.code === 'ECONNRESET' && !socket.bytesWritten)) return socket.destroy();
    const [status, text] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = JSON.stringify(errorBody(status === 431 ? 'the request headers are over this server\'s limit' : `malformed HTTP request (${err.code ?? 'parse error'})`));
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve, reject) => {
      // Cut what is still open after the grace period: their request signals abort the generations.
      const force = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
      server.close((err) => {
        clearTimeout(force);
        sampler.close();
        if (err) reject(err);
        else resolve();
      });
      server.closeIdleConnections();
    }));
  return { url, backend, close };
}
