// The Cloudflare Workers entry: the app over the R2 binding, with
// server-side sampling proxied to GPU_ORIGIN when set (501 JSON otherwise).
// Only wiring lives here; wrangler.toml declares the bindings, and its vars
// and secrets set the limits under the names `medsynth serve` reads
// (worker/settings.ts: MEDSYNTH_MAX_STEPS, secret MEDSYNTH_API_KEY, ...).
import type { ExecutionContext, Hono } from 'hono';
import { createApp } from './app.ts';
import { errorBody } from './errors.ts';
import { gpuProxy } from './gpu-proxy.ts';
import { r2Storage, type R2BucketLike } from './r2-storage.ts';
import { serverConfigFrom } from './settings.ts';

export interface Env {
  MODELS: R2BucketLike;
  /** e.g. "https://gpu.example.com": a medsynth Node server that samples. */
  GPU_ORIGIN?: string;
  /** Secret: the GPU origin's API key. */
  GPU_API_KEY?: string;
  /** The server settings (worker/settings.ts), e.g. MEDSYNTH_MAX_STEPS; secret MEDSYNTH_API_KEY. */
  [setting: `MEDSYNTH_${string}`]: string | number | undefined;
}

/** Built on the first request (bindings arrive with it) and kept for the isolate's life, rate-limit state included. */
let app: Hono | undefined;

function build(env: Env): Hono {
  return createApp({
    storage: r2Storage(env.MODELS),
    sampler: env.GPU_ORIGIN ? gpuProxy(env.GPU_ORIGIN, { apiKey: env.GPU_API_KEY || undefined }) : undefined,
    config: serverConfigFrom({ env: env as unknown as Record<string, unknown> }),
    clientKey: (c) => c.req.header('cf-connecting-ip'),
  });
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    try {
      app ??= build(env);
    } catch (e) {
      // Bad vars or secrets (a short MEDSYNTH_API_KEY, a malformed GPU_ORIGIN): details go to the log, not to clients.
      console.error(e);
      return Response.json(errorBody("this server is misconfigured; see the Worker's logs"), { status: 500 });
    }
    return app.fetch(request, env, ctx);
  },
};
