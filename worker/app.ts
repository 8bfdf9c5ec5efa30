// The medsynth HTTP app (DESIGN §6). Platform-free: storage and sampling are
// injected, so the same app runs on Node (a models folder, local tfjs) and on
// Workers (R2, a proxy to a GPU origin). No runtime imports here.
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import { secureHeaders } from 'hono/secure-headers';
import { parseServerConfig, type ServerConfigInput } from './config.ts';
import { notFound, onError } from './errors.ts';
import { WorkQueue } from './limits/work-queue.ts';
import { ManifestCache } from './manifests.ts';
import { assetRoute, type AssetStore } from './demo/assets.ts';
import { demoPage } from './demo/page.ts';
import { fileRoute } from './routes/files.ts';
import { openApiDocument } from './openapi.ts';
import { listRoute } from './routes/models.ts';
import { sampleRoutes } from './routes/samples.ts';
import type { SampleService } from './sample-service.ts';
import type { ModelStorage } from './storage.ts';

export interface AppDeps {
  storage: ModelStorage;
  /** Server-side sampling; without it the sampling route answers 501. */
  sampler?: SampleService;
  config?: ServerConfigInput;
  /** The client's identity for the rate limit (e.g. its address). */
  clientKey?: (c: Context) => string | undefined;
  /** The browser bundle under /browser/ (Node: dist/web/browser; Workers: static assets, served before the app). */
  assets?: AssetStore;
}

export function createApp(deps: AppDeps): Hono {
  const config = parseServerConfig(deps.config);
  const manifests = new ManifestCache(deps.storage);
  const queue = new WorkQueue(config.maxConcurrent, config.maxQueued);
  const app = new Hono();

  // The page is cross-origin isolated; API responses must stay loadable from
  // other origins' isolated pages, hence CORP cross-origin there.
  const pageHeaders = secureHeaders({
    crossOriginEmbedderPolicy: 'require-corp',
    crossOriginOpenerPolicy: 'same-origin',
    crossOriginResourcePolicy: 'same-origin',
    // The page's own small <style>; images drawn and downloaded through data:/blob: URLs.
    contentSecurityPolicy: { defaultSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:', 'blob:'] },
  });
  const apiHeaders = secureHeaders({ crossOriginResourcePolicy: 'cross-origin' });
  app.use('*', (c, next) => (c.req.path === '/' ? pageHeaders : apiHeaders)(c, next));
  const corsHeaders = cors({
    origin: config.corsOrigin,
    allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'Range', 'If-None-Match', 'If-Range'],
    exposeHeaders: ['ETag', 'Content-Length', 'Content-Range', 'Accept-Ranges', 'Content-Disposition', 'Retry-After', 'X-Medsynth-Seed', 'X-Medsynth-Steps', 'X-Medsynth-Sampler'],
    maxAge: 86_400,
  });
  app.use('/v1/*', corsHeaders);
  app.use('/browser/*', corsHeaders);
  app.use('/openapi.json', corsHeaders);

  app.get('/', (c) => c.html(demoPage(new URL(c.req.url).origin)));
  app.get('/browser/:file', assetRoute(deps.assets));
  app.get('/healthz', (c) =>
    c.json({ ok: true, sampling: deps.sampler !== undefined, active: queue.active, queued: queue.queued }, 200, { 'Cache-Control': 'no-store' }),
  );
  const openApi = openApiDocument(config);
  app.get('/openapi.json', (c) => c.json(openApi, 200, { 'Cache-Control': 'no-cache' }));
  // The listing and this document get Hono's body-hash ETag; the checkpoint files carry their storage's
  // own strong ETag and answer ranges (routes/files.ts), which hashing each body would not serve.
  app.use('/v1/models', etag());
  app.use('/openapi.json', etag());
  app.get('/v1/models', listRoute(deps.storage, manifests));
  app.route('/v1/models', sampleRoutes({ sampler: deps.sampler, manifests, config, queue, clientKey: deps.clientKey }));
  app.get('/v1/models/:id/:file', fileRoute(deps.storage));

  app.onError(onError);
  app.notFound(notFound);
  return app;
}
