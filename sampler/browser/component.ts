// <medsynth-generator>: generation in the browser as one element. Everything
// it draws lives in its shadow root (no global CSS in, none out); controls
// are native buttons and range inputs, so it is usable from the keyboard
// (Escape cancels). Attributes: model (URL prefix of a checkpoint; default
// the server the bundle came from, model "default"), steps, sampler, seed
// (random per run when absent), label, backend (force webgpu|wasm|cpu).
// Events (bubbling, composed): medsynth-progress, medsynth-result,
// medsynth-error, each with the data as `detail`.
import { encodeMontagePng, encodeNifti, encodePng, type GeneratedImage } from '../encode/index.ts';
import { createGenerator, type Generator } from './generator.ts';
import { BROWSER_BACKENDS, type BackendReport, type BrowserBackendName, type BrowserGenerateOptions, type BrowserGenerateResult, type Progress } from './protocol.ts';
import { defaultWindow, planesOf, renderSlice, sliceGeometry, type DisplayWindow, type Plane } from './slices.ts';

/** The model served next to the bundle: `<origin>/v1/models/default` for the bundle at `<origin>/browser/`. */
const DEFAULT_MODEL = new URL('../v1/models/default', import.meta.url).href;

const STYLE = `
:host { display: block; font: inherit; color: inherit; max-width: 100%; }
:host([hidden]) { display: none; }
.box { display: grid; gap: 0.6em; padding: 0.8em; border: 1px solid color-mix(in srgb, currentColor 25%, transparent); border-radius: 6px; }
.bar { display: flex; flex-wrap: wrap; gap: 0.5em; align-items: center; }
button { font: inherit; padding: 0.35em 0.9em; border-radius: 4px; border: 1px solid color-mix(in srgb, currentColor 40%, transparent); background: transparent; color: inherit; cursor: pointer; }
button:disabled { opacity: 0.45; cursor: default; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--medsynth-focus, #2563eb); outline-offset: 2px; }
progress { width: 100%; height: 0.8em; }
.backend, .note { font-size: 0.85em; opacity: 0.8; }
.views { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0; display: grid; gap: 0.3em; justify-items: start; }
canvas { width: var(--medsynth-view-size, 256px); height: auto; image-rendering: pixelated; background: #000; }
figcaption, label { font-size: 0.85em; display: flex; gap: 0.4em; align-items: center; }
fieldset { border: 0; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 1em; }
legend { font-size: 0.85em; padding: 0; margin-bottom: 0.3em; }
`;

const TEMPLATE = `
<div class="box" part="box">
  <div class="bar">
    <button type="button" id="go" part="generate">Generate</button>
    <button type="button" id="cancel" part="cancel" disabled>Cancel</button>
    <span class="backend" id="backend">Backend: chosen on the first run</span>
  </div>
  <progress id="progress" max="1" value="0" aria-label="Progress"></progress>
  <div id="status" role="status" aria-live="polite">Ready.</div>
  <div class="views" id="views"></div>
  <fieldset id="wl" hidden>
    <legend>Window / level</legend>
    <label>Level <input type="range" id="level"><output id="level-out"></output></label>
    <label>Width <input type="range" id="width"><output id="width-out"></output></label>
  </fieldset>
  <div class="bar">
    <button type="button" id="png" disabled>Download PNG</button>
    <button type="button" id="nifti" disabled>Download NIfTI</button>
  </div>
  <div class="note">Synthetic images from a diffusion model. Not for clinical use.</div>
</div>`;

function sheet(): { adopt: (root: ShadowRoot) => void } {
  // A constructed stylesheet is not subject to a page's style-src CSP; <style> is the fallback.
  try {
    const s = new CSSStyleSheet();
    s.replaceSync(STYLE);
    return { adopt: (root) => (root.adoptedStyleSheets = [s]) };
  } catch {
    return { adopt: (root) => root.prepend(Object.assign(document.createElement('style'), { textContent: STYLE })) };
  }
}

const fmtMB = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 1)} MB`;
const fmtValue = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : String(Number(v.toPrecision(3))));

export function describeBackend(b: BackendReport): string {
  const detail = b.name === 'wasm' ? `${b.threads ?? 1} thread${b.threads === 1 ? '' : 's'}` : b.adapter;
  return `Backend: ${b.name}${detail ? ` (${detail})` : ''}`;
}

export class MedsynthGenerator extends HTMLElement {
  static readonly observedAttributes = ['model', 'backend'];

  readonly #root: ShadowRoot;
  #generator?: Generator;
  #run?: AbortController;
  #result?: BrowserGenerateResult;
  #window: DisplayWindow = { level: 0, width: 1 };
  #slices = new Map<Plane, number>();

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.innerHTML = TEMPLATE;
    sheet().adopt(this.#root);
    this.#el('go').addEventListener('click', () => void this.generate());
    this.#el('cancel').addEventListener('click', () => this.cancel());
    this.#el('png').addEventListener('click', () => this.#download('png'));
    this.#el('nifti').addEventListener('click', () => this.#download('nifti'));
    for (const id of ['level', 'width'] as const) this.#el<HTMLInputElement>(id).addEventListener('input', () => this.#onWindowInput());
    this.#root.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Escape' && this.#run) this.cancel();
    });
  }

  /** The last result (images in real units, backend, seed, timings). */
  get result(): BrowserGenerateResult | undefined {
    return this.#result;
  }

  /** The model URL this element generates from. */
  get model(): string {
    return new URL(this.getAttribute('model') || DEFAULT_MODEL, document.baseURI).href;
  }

  attributeChangedCallback(): void {
    // Another model or backend needs another worker.
    this.#dropGenerator();
  }

  disconnectedCallback(): void {
    this.#dropGenerator();
  }

  /** The options the attributes ask for. */
  options(): BrowserGenerateOptions {
    const int = (name: string) => {
      const raw = this.getAttribute(name);
      if (raw === null || raw.trim() === '') return undefined;
      const v = Number(raw);
      if (!Number.isInteger(v)) throw new Error(`attribute ${name} must be an integer; got "${raw}"`);
      return v;
    };
    const label = this.getAttribute('label');
    const sampler = this.getAttribute('sampler');
    return {
      seed: int('seed') ?? crypto.getRandomValues(new Uint32Array(1))[0],
      ...(int('steps') === undefined ? {} : { steps: int('steps') }),
      ...(sampler ? { sampler: sampler as BrowserGenerateOptions['sampler'] } : {}),
      ...(label ? { label: /^\d+$/.test(label) ? Number(label) : label } : {}),
    };
  }

  /** Runs one generation; resolves to its result, or undefined when it was cancelled or failed (see the status). */
  async generate(): Promise<BrowserGenerateResult | undefined> {
    this.cancel();
    const run = new AbortController();
    this.#run = run;
    this.#setBusy(true);
    this.#status('Starting…', 0);
    try {
      const options = this.options();
      const generator = this.#ensureGenerator();
      const result = await generator.generate(options, { signal: run.signal, onProgress: (p) => this.#onProgress(p) });
      this.#show(result);
      this.#status(`Done: seed ${result.seed}, ${result.steps} ${result.sampler} steps in ${(result.timings.generateMs / 1000).toFixed(1)} s.`, 1);
      this.#emit('medsynth-result', result);
      return result;
    } catch (e) {
      const cancelled = (e as Error).name === 'AbortError';
      this.#status(cancelled ? 'Cancelled.' : `Failed: ${(e as Error).message}`, 0);
      if (!cancelled) this.#emit('medsynth-error', e);
      return undefined;
    } finally {
      if (this.#run === run) {
        this.#run = undefined;
        this.#setBusy(false);
      }
    }
  }

  /** Stops the running generation (its tensors are freed in the worker). */
  cancel(): void {
    this.#run?.abort();
  }

  #el<T extends HTMLElement = HTMLElement>(id: string): T {
    return this.#root.getElementById(id) as T;
  }

  #ensureGenerator(): Generator {
    if (!this.#generator) {
      const backend = this.getAttribute('backend') || undefined;
      if (backend !== undefined && !(BROWSER_BACKENDS as readonly string[]).includes(backend)) {
        throw new Error(`attribute backend must be one of ${BROWSER_BACKENDS.join(', ')}; got "${backend}"`);
      }
      this.#generator = createGenerator({ model: this.model, backend: backend as BrowserBackendName | undefined });
    }
    return this.#generator;
  }

  #dropGenerator(): void {
    this.cancel();
    this.#generator?.dispose();
    this.#generator = undefined;
  }

  #emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  #setBusy(busy: boolean): void {
    const go = this.#el<HTMLButtonElement>('go');
    const cancel = this.#el<HTMLButtonElement>('cancel');
    // A focused button that gets disabled drops the focus to the page: hand it to the other one.
    const [from, to] = busy ? [go, cancel] : [cancel, go];
    const hadFocus = this.#root.activeElement === from;
    go.disabled = busy;
    cancel.disabled = !busy;
    if (hadFocus) to.focus();
    this.toggleAttribute('busy', busy);
  }

  #status(text: string, fraction?: number): void {
    this.#el('status').textContent = text;
    if (fraction !== undefined) this.#el<HTMLProgressElement>('progress').value = fraction;
  }

  #onProgress(p: Progress): void {
    switch (p.phase) {
      case 'backend':
        this.#showBackend(p.backend);
        break;
      case 'download':
        this.#status(p.cached ? `Reading the weights from the cache: ${fmtMB(p.loaded)} of ${fmtMB(p.total)}` : `Downloading the weights: ${fmtMB(p.loaded)} of ${fmtMB(p.total)}`, p.total ? p.loaded / p.total : 0);
        break;
      case 'steps':
        this.#status(`Step ${p.step} of ${p.totalSteps}`, p.step / p.totalSteps);
        break;
    }
    this.#emit('medsynth-progress', p);
  }

  #showBackend(b: BackendReport): void {
    this.#el('backend').textContent = describeBackend(b);
    this.#el('backend').title = b.skipped.length ? `Skipped: ${b.skipped.join('; ')}` : '';
  }

  #show(result: BrowserGenerateResult): void {
    this.#result = result;
    this.#showBackend(result.backend);
    const image = result.images[0];
    this.#window = defaultWindow(image);
    const [lo, hi] = image.range;
    const span = hi - lo;
    const level = this.#el<HTMLInputElement>('level');
    const width = this.#el<HTMLInputElement>('width');
    Object.assign(level, { min: String(lo - span / 2), max: String(hi + span / 2), step: String(span / 200), value: String(this.#window.level) });
    Object.assign(width, { min: String(span / 100), max: String(span * 2), step: String(span / 200), value: String(this.#window.width) });
    this.#el('wl').hidden = false;

    const views = this.#el('views');
    views.replaceChildren();
    this.#slices.clear();
    for (const plane of planesOf(image)) {
      const g = sliceGeometry(image, plane);
      const index = Math.floor(g.count / 2);
      this.#slices.set(plane, index);
      const figure = document.createElement('figure');
      const canvas = Object.assign(document.createElement('canvas'), { width: g.width, height: g.height });
      canvas.dataset.plane = plane;
      canvas.setAttribute('role', 'img');
      canvas.style.aspectRatio = String(g.aspect);
      figure.append(canvas);
      if (g.count > 1) {
        const caption = document.createElement('figcaption');
        const label = document.createElement('label');
        const slider = Object.assign(document.createElement('input'), { type: 'range', min: '0', max: String(g.count - 1), step: '1', value: String(index) });
        slider.dataset.plane = plane;
        const out = document.createElement('output');
        slider.addEventListener('input', () => {
          this.#slices.set(plane, Number(slider.value));
          this.#draw(plane);
        });
        label.append(`${plane[0].toUpperCase()}${plane.slice(1)} slice`, slider, out);
        caption.append(label);
        figure.append(caption);
      }
      views.append(figure);
      this.#draw(plane);
    }
    this.#updateWindowOutputs();
    this.#el<HTMLButtonElement>('png').disabled = false;
    const channels = image.shape[image.shape.length - 1];
    this.#el<HTMLButtonElement>('nifti').disabled = channels !== 1;
  }

  #draw(plane: Plane): void {
    const image = this.#result?.images[0];
    if (!image) return;
    const index = this.#slices.get(plane) ?? 0;
    const canvas = this.#root.querySelector<HTMLCanvasElement>(`canvas[data-plane="${plane}"]`)!;
    const slice = renderSlice(image, plane, index, this.#window);
    canvas.getContext('2d')!.putImageData(new ImageData(slice.data as Uint8ClampedArray<ArrayBuffer>, slice.width, slice.height), 0, 0);
    const count = sliceGeometry(image, plane).count;
    const unit = image.unit ? ` ${image.unit}` : '';
    const where = count > 1 ? `${plane} slice ${index + 1} of ${count}` : `${image.modality} image`;
    canvas.setAttribute('aria-label', `Synthetic ${image.modality.toUpperCase()}, ${where}, window ${fmtValue(this.#window.level)} ± ${fmtValue(this.#window.width / 2)}${unit}`);
    const out = canvas.parentElement?.querySelector('output');
    if (out) out.textContent = `${index + 1} / ${count}`;
  }

  #onWindowInput(): void {
    this.#window = { level: Number(this.#el<HTMLInputElement>('level').value), width: Number(this.#el<HTMLInputElement>('width').value) };
    this.#updateWindowOutputs();
    for (const plane of this.#slices.keys()) this.#draw(plane);
  }

  #updateWindowOutputs(): void {
    const unit = this.#result?.images[0].unit ? ` ${this.#result.images[0].unit}` : '';
    this.#el('level-out').textContent = `${fmtValue(this.#window.level)}${unit}`;
    this.#el('width-out').textContent = `${fmtValue(this.#window.width)}${unit}`;
  }

  /** The image windowed as shown: PNG pixels and NIfTI's display range follow the sliders. */
  #windowed(): GeneratedImage {
    const image = this.#result!.images[0];
    const { level, width } = this.#window;
    return { ...image, range: [level - width / 2, level + width / 2] };
  }

  #download(format: 'png' | 'nifti'): void {
    if (!this.#result) return;
    const image = this.#windowed();
    const bytes = format === 'nifti' ? encodeNifti([image], { gzip: true }) : image.shape.length === 3 ? encodePng(image) : encodeMontagePng([image]);
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: format === 'nifti' ? 'application/gzip' : 'image/png' });
    const name = `medsynth-seed${this.#result.seed}.${format === 'nifti' ? 'nii.gz' : 'png'}`;
    const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
    this.#root.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }
}
