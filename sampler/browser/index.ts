// medsynth/browser: the page-side entry of the browser bundle. Loading it
// defines <medsynth-generator> and <medsynth-model-picker>; createGenerator() is the programmatic API.
// tfjs and the models run in the worker bundle (medsynth-worker.js), never here.
import { MedsynthGenerator } from './component.ts';
import { MedsynthModelPicker } from './picker.ts';

export { MedsynthGenerator, describeBackend } from './component.ts';
export { MedsynthModelPicker } from './picker.ts';
export { createGenerator, type Generator, type GeneratorOptions, type GenerateHooks } from './generator.ts';
export { BROWSER_BACKENDS } from './protocol.ts';
export type { BackendReport, BrowserBackendName, BrowserGenerateOptions, BrowserGenerateResult, MemoryReport, Progress } from './protocol.ts';
export { clearCache, isCached, CACHE_NAME } from './cache-store.ts';
export { defaultWindow, planesOf, renderSlice, sliceGeometry, PLANES, type DisplayWindow, type Plane } from './slices.ts';
export { encodeMontagePng, encodeNifti, encodePng, type GeneratedImage } from '../encode/index.ts';

if (typeof customElements !== 'undefined' && !customElements.get('medsynth-generator')) {
  customElements.define('medsynth-generator', MedsynthGenerator);
}
if (typeof customElements !== 'undefined' && !customElements.get('medsynth-model-picker')) {
  customElements.define('medsynth-model-picker', MedsynthModelPicker);
}
