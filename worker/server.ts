// The package's `medsynth/server` entry: the HTTP app as a Hono sub-app to
// mount in your own server (`app.route('/medsynth', createApp({ ... }))`),
// with the Node storage and sampler that `medsynth serve` uses, and the R2
// storage the Workers entry uses. Re-exports only.
export { createApp, type AppDeps } from './app.ts';
export type { ServerConfigInput } from './config.ts';
export type { ModelStorage, StoredFile } from './storage.ts';
export type { SampleService } from './sample-service.ts';
export { folderStorage } from './node/folder-storage.ts';
export { localSampler, type LocalSampler, type LocalSamplerOptions } from './node/local-sampler.ts';
export { r2Storage, type R2BucketLike } from './r2-storage.ts';
export { startServer, type RunningServer } from './node/start-server.ts';
