// `npm run bench:browser`: in-browser generation against Node, on the same
// model, options and backend (wasm), in one run, in one JSON file
// (bench/results/browser-<time>.json).
//   tsx bench/browser/browser.ts [--model default] [--warmup 2] [--runs 5] [--steps N] [--quick] [--out file.json]
//
// The real HTTP app (worker/node/start-server.ts) serves models/ and the browser bundle on
// 127.0.0.1; headless Debian chromium (the browser suites' launch, fresh
// profile) opens the demo page, so the page is cross-origin isolated as a
// visitor's is, and drives createGenerator() from /browser/medsynth.js with
// backend wasm. Measured:
// - generation: one image (batch 1, seed 0, the manifest's steps, its first
//   label on a class-conditional model) --warmup times, then --runs times,
//   each as the worker's timings.generateMs; the same generate() call in this
//   Node process on tfjs wasm, alternating with the browser's (browser run,
//   Node run, ...), so load on the machine falls on both alike (Chromium
//   computes in its own processes while Node waits). The ratio is of the
//   medians, browser / Node.
// - cold load: the first call of the run, on the fresh profile: from
//   createGenerator() to the first image (worker start, wasm backend, manifest,
//   every shard downloaded, the image), with the worker's loadMs and shards.
// - cached load: afterwards a new page in the same browser context (the Cache
//   API lives in the profile) does the same; it must read every shard from the
//   cache: shards.fetched 0, and no request for a shard file seen on the page.
// The bundle is rebuilt first when a source changed. --quick: 1 warm-up, 2
// runs, 2 steps (a smoke run of seconds).
import { readFile, readdir, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { Page } from 'playwright-core';
import type { Manifest } from '../../shared/checkpoint/index.ts';
import type { BackendReport, BrowserGenerateOptions } from '../../sampler/browser/protocol.ts';
import { selectBackend } from '../../sampler/backend.ts';
import { generate, type GenerateOptions } from '../../sampler/generate.ts';
import { loadModel, type LoadedModel } from '../../sampler/load.ts';
import { writeFileAtomic } from '../../sampler/node/atomic-file.ts';
import { startServer, type RunningServer } from '../../worker/node/start-server.ts';
import { buildBrowser } from '../../scripts/build-browser.ts';
// The one definition of how this project runs Chromium (flags, fresh profile), shared with the browser suites.
import { launchChromium, NO_CHROMIUM, type Browser } from '../../test/browser/chromium.ts';
import { machineInfo } from '../common/machine.ts';
import { median, round1 } from '../common/stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODELS = join(ROOT, 'models');
const SEED = 0;

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new Error(`--${name} must be an integer >= ${min}, got "${value}"`);
  return Number(value);
}

/** The model folders under models/ (those holding a manifest.json), by id. */
async function modelIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const e of await readdir(MODELS, { withFileTypes: true })) {
    if (e.isDirectory() && (await stat(join(MODELS, e.name, 'manifest.json')).catch(() => undefined))) ids.push(e.name);
  }
  return ids.sort();
}

async function settingsFrom(argv: string[]) {
  const text = { type: 'string' } as const;
  const { values } = parseArgs({ args: argv, options: { model: text, warmup: text, runs: text, steps: text, out: text, quick: { type: 'boolean' } } });
  const quick = values.quick ?? false;
  const model = values.model ?? 'default';
  const ids = await modelIds();
  // An id, not a path: the app serves models/<id> at /v1/models/<id>, and Node reads the same folder.
  if (!ids.includes(model)) throw new Error(`--model must be a model folder under models/ (one of ${ids.join(', ')}), got "${model}"`);
  return {
    quick,
    model,
    warmup: count('warmup', values.warmup, quick ? 1 : 2, 0),
    runs: count('runs', values.runs, quick ? 2 : 5, 1),
    steps: values.steps === undefined ? (quick ? 2 : undefined) : count('steps', values.steps, 0, 1),
    out: values.out,
  };
}

/** What the page hands back for one generate() call (images left in the page, except for a load's first). */
interface PageResult {
  backend: BackendReport;
  shards: { cached: number; fetched: number };
  timings: { loadMs: number; generateMs: number };
  sampler: string;
  steps: number;
}

interface PageLoad extends PageResult {
  /** From createGenerator() to the first image in the page. */
  firstImageMs: number;
  data: number[];
  range: [number, number];
}

// Plain JavaScript evaluated in the page as a string, so no TypeScript transform (tsx's name helpers) reaches the browser.
const IN_PAGE = `(() => {
  const lib = import('/browser/medsynth.js');
  let generator;
  const summary = (r) => ({ backend: r.backend, shards: r.shards, timings: r.timings, sampler: r.sampler, steps: r.steps });
  window.medsynthBench = {
    ready: () => lib.then(() => true),
    async load(model, options) {
      const { createGenerator } = await lib;
      const t0 = performance.now();
      generator = createGenerator({ model, backend: 'wasm' });
      const r = await generator.generate(options);
      const firstImageMs = performance.now() - t0;
      return { ...summary(r), firstImageMs, data: Array.from(r.images[0].data), range: r.images[0].range };
    },
    async generate(options) { return summary(await generator.generate(options)); },
    dispose() { generator.dispose(); },
  };
})();`;

/** A new tab on the demo page with the bench's functions installed, recording the path of every network request it makes. */
async function openPage(browser: Browser, server: RunningServer): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.context.newPage();
  const requests: string[] = [];
  // The generation worker's fetches are reported on its page too (the cold load shows one per fetched shard).
  // blob: URLs (the wasm threads' worker scripts) never reach the network.
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol === 'http:' || url.protocol === 'https:') requests.push(url.pathname);
  });
  await page.goto(`${server.url}/`);
  await page.evaluate(IN_PAGE);
  await page.evaluate('window.medsynthBench.ready()');
  return { page, requests };
}

const isShard = (path: string) => path.endsWith('.msgpack');

/** max |a - b| over the width of the intensity range: the browser and Node draw the same image. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, [lo, hi]: [number, number]): number {
  if (a.length !== b.length) throw new Error(`the browser's image has ${a.length} values, Node's ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / (hi - lo);
}

function loadRecord(r: PageLoad, requests: string[]) {
  return {
    firstImageMs: round1(r.firstImageMs),
    loadMs: round1(r.timings.loadMs),
    generateMs: round1(r.timings.generateMs),
    shards: r.shards,
    shardRequests: requests.filter(isShard).length,
    // The page's requests from its navigation on, in order: what a visit still asks the server for.
    requests,
  };
}

export async function main(argv: string[]): Promise<string> {
  const s = await settingsFrom(argv);
  if (NO_CHROMIUM) throw new Error(NO_CHROMIUM);
  const loadStart = loadavg();
  const manifest = JSON.parse(await readFile(join(MODELS, s.model, 'manifest.json'), 'utf8')) as Manifest;
  const label = manifest.labels?.[0];
  const browserOptions: BrowserGenerateOptions = { count: 1, seed: SEED, steps: s.steps ?? manifest.sampler.steps, ...(label === undefined ? {} : { label }) };
  // The worker leaves batchSize at its default, which is one network batch for one image: the same as 1 here.
  const nodeOptions: GenerateOptions = { ...browserOptions, batchSize: 1 };

  const bundle = await buildBrowser({ ifStale: true });
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let nodeModel: LoadedModel | undefined;
  try {
    // backend wasm: the server process is this one, and tfjs's backend is per process.
    server = await startServer({ modelsDir: MODELS, port: 0, host: '127.0.0.1', backend: 'wasm', shutdownGraceMs: 1000 });
    const nodeBackend = await selectBackend('wasm');
    browser = await launchChromium();
    const chromiumVersion = browser.context.browser()?.version();
    const modelUrl = `${server.url}/v1/models/${s.model}`;

    // Cold: the first load on the fresh profile.
    const first = await openPage(browser, server);
    const cold = (await first.page.evaluate(`window.medsynthBench.load(${JSON.stringify(modelUrl)}, ${JSON.stringify(browserOptions)})`)) as PageLoad;
    const coldRequests = [...first.requests];
    console.log(`cold load: first image after ${cold.firstImageMs.toFixed(0)} ms (load ${cold.timings.loadMs.toFixed(0)} ms, shards fetched ${cold.shards.fetched}, cached ${cold.shards.cached})`);

    const t0 = performance.now();
    nodeModel = await loadModel(join(MODELS, s.model));
    const nodeLoadMs = performance.now() - t0;
    const browserMs: number[] = [];
    const nodeMs: number[] = [];
    let sameImage: number | undefined;
    for (let i = 0; i < s.warmup + s.runs; i++) {
      const b = (await first.page.evaluate(`window.medsynthBench.generate(${JSON.stringify(browserOptions)})`)) as PageResult;
      const n0 = performance.now();
      const n = await generate(nodeModel, nodeOptions);
      const nMs = performance.now() - n0;
      sameImage ??= maxRelDiff(cold.data, n.images[0].data, cold.range);
      const warm = i < s.warmup;
      if (!warm) {
        browserMs.push(b.timings.generateMs);
        nodeMs.push(nMs);
      }
      const what = warm ? `warm-up ${i + 1}/${s.warmup}` : `run ${i - s.warmup + 1}/${s.runs}`;
      console.log(`${what}: browser ${b.timings.generateMs.toFixed(0)} ms, node ${nMs.toFixed(0)} ms`);
    }
    await first.page.evaluate('window.medsynthBench.dispose()');
    await first.page.close();

    // Cached: a second visit in the same profile.
    const second = await openPage(browser, server);
    const cached = (await second.page.evaluate(`window.medsynthBench.load(${JSON.stringify(modelUrl)}, ${JSON.stringify(browserOptions)})`)) as PageLoad;
    await second.page.evaluate('window.medsynthBench.dispose()');
    console.log(
      `cached load: first image after ${cached.firstImageMs.toFixed(0)} ms (load ${cached.timings.loadMs.toFixed(0)} ms, ` +
        `shards cached ${cached.shards.cached}, fetched ${cached.shards.fetched}, shard requests ${second.requests.filter(isShard).length})`,
    );

    const browserMedian = median(browserMs)!;
    const nodeMedian = median(nodeMs)!;
    const ratio = Math.round((browserMedian / nodeMedian) * 1000) / 1000;
    console.log(`median of ${s.runs}: browser ${browserMedian.toFixed(0)} ms, node ${nodeMedian.toFixed(0)} ms, ratio ${ratio}`);

    const date = new Date().toISOString();
    const report = {
      bench: 'browser',
      date,
      machine: { ...machineInfo(loadStart), chromium: chromiumVersion },
      settings: {
        model: s.model,
        checkpoint: { name: manifest.name, kind: manifest.kind, quantization: manifest.quantization, shards: manifest.shards.length },
        options: { ...nodeOptions, sampler: cold.sampler, steps: cold.steps },
        warmup: s.warmup,
        runs: s.runs,
        quick: s.quick,
        bundleRebuilt: bundle.built,
        order: 'cold browser load, then per call one browser generate and one Node generate; then the cached browser load on a new page',
        statistic: 'median over runs after warm-up calls; browser: the worker\'s timings.generateMs, Node: wall time of generate()',
      },
      browser: {
        backend: cold.backend,
        threads: cold.backend.threads,
        runsMs: browserMs.map(round1),
        medianMs: round1(browserMedian),
      },
      node: {
        backend: nodeBackend,
        threads: getThreadsCount(),
        loadMs: round1(nodeLoadMs),
        runsMs: nodeMs.map(round1),
        medianMs: round1(nodeMedian),
      },
      ratio,
      ratioMeaning: 'browser median / Node median: below 1 the browser generates faster than Node, above 1 slower',
      // max |browser - Node| over the intensity range, same seed: both timed the same computation.
      sameImageMaxDiff: sameImage,
      coldLoad: loadRecord(cold, coldRequests),
      cachedLoad: loadRecord(cached, second.requests),
    };
    const out = s.out ? resolve(s.out) : join(ROOT, 'bench/results', `browser-${date.replace(/[:.]/g, '').slice(0, 17)}Z.json`);
    await writeFileAtomic(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${out}`);
    return out;
  } finally {
    nodeModel?.dispose();
    try {
      await browser?.close();
    } finally {
      await server?.close();
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
