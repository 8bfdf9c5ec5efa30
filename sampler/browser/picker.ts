// <medsynth-model-picker for="ID">: a model and class chooser for a
// <medsynth-generator> on the same page. It lists the models a medsynth server
// serves (GET <models>, default the server the bundle came from) and sets the
// generator's `model` and `label` attributes; the class list follows the
// chosen model's labels ("any" samples unconditionally). Native selects in a
// shadow root, so it is keyboard-usable and unaffected by the page's CSS.

/** The list served next to the bundle: `<origin>/v1/models` for the bundle at `<origin>/browser/`. */
const DEFAULT_LIST = new URL('../v1/models', import.meta.url).href;

/** What GET /v1/models says of a model (worker/routes/models.ts); unusable ones carry `error` instead. */
interface ListedModel {
  id: string;
  name?: string;
  kind?: string;
  labels?: string[];
  shape?: number[];
  error?: { message: string };
}

const TEMPLATE = `
<style>
:host { display: block; font: inherit; color: inherit; }
:host([hidden]) { display: none; }
.bar { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; }
label { display: flex; gap: 0.4em; align-items: center; }
select { font: inherit; max-width: 100%; }
select:focus-visible { outline: 2px solid var(--medsynth-focus, #2563eb); outline-offset: 2px; }
.status { font-size: 0.85em; opacity: 0.8; }
</style>
<div class="bar" part="bar">
  <label>Model <select id="model" disabled></select></label>
  <label>Class <select id="label" disabled></select></label>
  <span class="status" id="status" role="status" aria-live="polite">Listing models…</span>
</div>`;

/** The generator's `model` attribute as an absolute URL without a trailing slash (undefined when unset). */
const modelOf = (target: HTMLElement) => {
  const model = target.getAttribute('model');
  return model ? new URL(model, document.baseURI).href.replace(/\/+$/, '') : undefined;
};

const option = (value: string, text: string) => Object.assign(document.createElement('option'), { value, textContent: text });

export class MedsynthModelPicker extends HTMLElement {
  readonly #root: ShadowRoot;
  #models: ListedModel[] = [];

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.innerHTML = TEMPLATE;
    this.#select('model').addEventListener('change', () => this.#choose(this.#select('model').value));
    this.#select('label').addEventListener('change', () => {
      const label = this.#select('label').value;
      if (label) this.#target()?.setAttribute('label', label);
      else this.#target()?.removeAttribute('label');
    });
  }

  /** The models list URL (attribute `models`). */
  get listUrl(): string {
    return new URL(this.getAttribute('models') || DEFAULT_LIST, document.baseURI).href;
  }

  connectedCallback(): void {
    void this.refresh();
  }

  /** Lists the models again; resolves when the selects show them (or the status says why not). */
  async refresh(): Promise<void> {
    try {
      const res = await fetch(this.listUrl, { headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`GET ${this.listUrl}: HTTP ${res.status}`);
      const body = (await res.json()) as { models?: ListedModel[] };
      if (!Array.isArray(body.models)) throw new Error(`GET ${this.listUrl}: expected { models: [...] }`);
      this.#models = body.models.filter((m) => !m.error);
      if (this.#models.length === 0) throw new Error(`GET ${this.listUrl}: no usable models`);
    } catch (e) {
      this.#status(`Could not list models: ${(e as Error).message}`);
      return;
    }
    const model = this.#select('model');
    model.replaceChildren(...this.#models.map((m) => option(m.id, `${m.id}: ${m.name} (${m.kind}, ${(m.shape ?? []).join('x')})`)));
    model.disabled = false;
    const target = this.#target();
    this.#status(this.getAttribute('for') && !target ? `No element with id "${this.getAttribute('for')}" (attribute for)` : '');
    // Start on the generator's own model when it is listed here.
    const current = target ? this.#models.find((m) => this.#urlOf(m.id) === modelOf(target)) : undefined;
    this.#choose((current ?? this.#models[0]).id, { keepLabel: true });
  }

  /** A listed model's checkpoint URL: `<list URL>/<id>`. */
  #urlOf(id: string): string {
    return new URL(encodeURIComponent(id), `${this.listUrl.replace(/\/+$/, '')}/`).href;
  }

  #choose(id: string, opts: { keepLabel?: boolean } = {}): void {
    const m = this.#models.find((x) => x.id === id)!;
    const target = this.#target();
    this.#select('model').value = id;
    const url = this.#urlOf(id);
    // Setting the attribute drops the generator's worker: only when the model really changes.
    if (target && modelOf(target) !== url) target.setAttribute('model', url);
    const labels = m.labels ?? [];
    const select = this.#select('label');
    select.replaceChildren(option('', labels.length ? 'any (unconditional)' : 'none (unconditional model)'), ...labels.map((l) => option(l, l)));
    select.disabled = labels.length === 0;
    const kept = opts.keepLabel ? target?.getAttribute('label') : null;
    if (kept && labels.includes(kept)) select.value = kept;
    else target?.removeAttribute('label');
  }

  /** The generator named by the `for` attribute. */
  #target(): HTMLElement | null {
    const id = this.getAttribute('for');
    return id ? (this.getRootNode() as Document | ShadowRoot).getElementById(id) : null;
  }

  #select(id: 'model' | 'label'): HTMLSelectElement {
    return this.#root.getElementById(id) as HTMLSelectElement;
  }

  #status(text: string): void {
    this.#root.getElementById('status')!.textContent = text;
  }
}
