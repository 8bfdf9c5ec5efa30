// <medsynth-generator> in real headless Chromium: the demo page at / of the
// Node server generates (WebGPU on SwiftShader, then wasm), keyboard use,
// the 3D slice viewer with window/level, PNG and NIfTI downloads, and the
// element embedded in a page on another origin with one script tag. A
// screenshot of the component is saved to test-artifacts/browser/ and
// checked to be non-blank.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { gunzipSync } from 'fflate';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { startServer, type RunningServer } from '../../worker/node/start-server.ts';
import { tinyFiles } from '../helpers/tiny-models.ts';
import { ARTIFACTS, ensureBundle, launchChromium, NO_CHROMIUM, type Browser } from './chromium.ts';

let dir: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let el: Locator;

/** Resolves when the element reports a result (or rejects with its error / after the status says it failed). */
function settled(p: Page, selector = 'medsynth-generator'): Promise<string> {
  return p.evaluate(`new Promise((resolve, reject) => {
    const el = document.querySelector(${JSON.stringify(selector)});
    el.addEventListener('medsynth-result', (e) => resolve(e.detail.backend.name), { once: true });
    el.addEventListener('medsynth-error', (e) => reject(new Error(e.detail.message)), { once: true });
  })`) as Promise<string>;
}

/** Distinct RGBA values drawn on the element's canvases. */
function canvasColours(p: Page, plane = 'axial'): Promise<number> {
  return p.evaluate(`(() => {
    const c = document.querySelector('medsynth-generator').shadowRoot.querySelector('canvas[data-plane="${plane}"]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
    return seen.size;
  })()`) as Promise<number>;
}

function canvasPixels(p: Page, plane: string): Promise<number[]> {
  return p.evaluate(`(() => {
    const c = document.querySelector('medsynth-generator').shadowRoot.querySelector('canvas[data-plane="${plane}"]');
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  })()`) as Promise<number[]>;
}

async function setAttributes(attrs: Record<string, string | null>): Promise<void> {
  await el.evaluate((node, a) => {
    for (const [k, v] of Object.entries(a)) {
      if (v === null) node.removeAttribute(k);
      else node.setAttribute(k, v);
    }
  }, attrs);
}

describe.skipIf(NO_CHROMIUM)('<medsynth-generator> in Chromium', () => {
  beforeAll(async () => {
    await ensureBundle();
    dir = await mkdtemp(join(tmpdir(), 'medsynth-component-'));
    await writeCheckpointFolder(join(dir, 'default'), (await tinyFiles('ddpm-unet2d')).files);
    await writeCheckpointFolder(join(dir, 'vol'), (await tinyFiles('ddpm-unet3d')).files);
    await writeCheckpointFolder(join(dir, 'labelled'), (await tinyFiles('ddpm-unet2d', { labels: ['t1', 'ct'], name: 'tiny-labelled' })).files);
    server = await startServer({ modelsDir: dir, port: 0, host: '127.0.0.1', backend: 'cpu', shutdownGraceMs: 1000 });
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(`${server.url}/`);
    el = page.locator('medsynth-generator');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the demo page at / generates in the browser: on wasm, and on WebGPU when asked for the software adapter', async () => {
    expect(await page.title()).toMatch(/medsynth/);
    expect(await page.locator('main p').first().textContent()).toMatch(/in your browser/);
    expect(await page.evaluate('crossOriginIsolated')).toBe(true);
    // The page's own default model; few steps keep SwiftShader quick.
    expect(await el.getAttribute('model')).toBe('/v1/models/default');
    await setAttributes({ steps: '3', seed: '5' });

    // Here WebGPU is SwiftShader, a software adapter: the automatic order takes wasm and says why.
    let done = settled(page);
    await el.getByRole('button', { name: 'Generate' }).click();
    expect(await done).toBe('wasm');
    expect(await el.locator('#backend').textContent()).toMatch(/^Backend: wasm \(\d+ threads?\)$/);
    expect(await el.locator('#backend').getAttribute('title')).toMatch(/^Skipped: webgpu: only a software adapter \(google swiftshader\)/);
    expect(await el.locator('#status').textContent()).toMatch(/^Done: seed 5, 3 ddim steps/);
    expect(await el.locator('progress').evaluate((p) => (p as HTMLProgressElement).value)).toBe(1);
    expect(await canvasColours(page)).toBeGreaterThan(8);
    const wasmPixels = await canvasPixels(page, 'axial');

    // A forced backend needs a new worker: the attribute change drops the old one.
    await setAttributes({ backend: 'webgpu' });
    done = settled(page);
    await el.getByRole('button', { name: 'Generate' }).click();
    expect(await done).toBe('webgpu');
    expect(await el.locator('#backend').textContent()).toBe('Backend: webgpu (google swiftshader)');
    // Same seed, same image (8-bit display; the backends agree to ~1e-7 of the range).
    const webgpuPixels = await canvasPixels(page, 'axial');
    expect(Math.max(...wasmPixels.map((v, i) => Math.abs(v - webgpuPixels[i])))).toBeLessThanOrEqual(1);

    const shot = join(ARTIFACTS, 'medsynth-generator.png');
    await el.screenshot({ path: shot });
    const png = decode(await readFile(shot));
    const channels = png.channels;
    const grey: number[] = [];
    for (let i = 0; i < png.data.length; i += channels) grey.push((png.data[i] + png.data[i + 1] + png.data[i + 2]) / 3);
    const mean = grey.reduce((a, b) => a + b, 0) / grey.length;
    const std = Math.sqrt(grey.reduce((a, b) => a + (b - mean) ** 2, 0) / grey.length);
    expect(png.width).toBeGreaterThan(200);
    expect(std).toBeGreaterThan(20); // text, controls and a noisy image, not one flat colour
    expect(new Set(grey.map(Math.round)).size).toBeGreaterThan(32);
  });

  it('is usable from the keyboard: Enter on Generate starts, the focus moves to Cancel, Escape cancels', async () => {
    await setAttributes({ steps: '100', backend: 'cpu' });
    await el.getByRole('button', { name: 'Generate' }).focus();
    await page.keyboard.press('Enter');
    await el.locator('#status').filter({ hasText: /^Step [1-9]/ }).waitFor();
    // The focus moved to Cancel when Generate was disabled.
    expect(await el.evaluate((node) => node.shadowRoot!.activeElement?.id)).toBe('cancel');
    await page.keyboard.press('Escape');
    await el.locator('#status').filter({ hasText: /^Cancelled\.$/ }).waitFor();
    expect(await el.getByRole('button', { name: 'Cancel' }).isEnabled()).toBe(false);
    // And back to Generate; Tab then skips the disabled Cancel.
    expect(await el.evaluate((node) => node.shadowRoot!.activeElement?.id)).toBe('go');
    await page.keyboard.press('Tab');
    expect(await el.evaluate((node) => node.shadowRoot!.activeElement?.id)).toBe('level');
  });

  it('shows a volume as axial, coronal and sagittal slices with scrollers and window/level, and downloads PNG and NIfTI', async () => {
    await setAttributes({ model: '/v1/models/vol', steps: '2', backend: 'wasm', seed: '3' });
    const done = settled(page);
    await el.getByRole('button', { name: 'Generate' }).click();
    await done;
    // tiny 3D: [D, H, W] = [4, 8, 8] with spacing [2.5, 0.9, 0.8] mm.
    const canvases = await el.locator('canvas').evaluateAll((cs) => cs.map((c) => [(c as HTMLCanvasElement).dataset.plane, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]));
    expect(canvases).toEqual([
      ['axial', 8, 8],
      ['coronal', 8, 4],
      ['sagittal', 8, 4],
    ]);
    const sliders = el.getByRole('slider', { name: /slice/ });
    expect(await sliders.count()).toBe(3);

    // Arrow keys move the axial slice; its pixels change and its label follows.
    const axial = el.getByRole('slider', { name: 'Axial slice' });
    const before = await canvasPixels(page, 'axial');
    await axial.focus();
    await page.keyboard.press('ArrowRight');
    expect(await axial.inputValue()).toBe('3');
    expect(await el.locator('canvas[data-plane="axial"]').getAttribute('aria-label')).toMatch(/axial slice 4 of 4, window 40 ± 200 HU/);
    expect(await canvasPixels(page, 'axial')).not.toEqual(before);

    // A narrower window raises contrast: at least as many pixels saturate.
    const saturated = (px: number[]) => px.filter((v, i) => i % 4 === 0 && (v === 0 || v === 255)).length;
    const wide = saturated(await canvasPixels(page, 'coronal'));
    const width = el.getByRole('slider', { name: 'Width' });
    await width.fill('50');
    const narrow = saturated(await canvasPixels(page, 'coronal'));
    expect(narrow).toBeGreaterThanOrEqual(wide);
    expect(await el.locator('#width-out').textContent()).toBe('50 HU');

    const [png] = await Promise.all([page.waitForEvent('download'), el.getByRole('button', { name: 'Download PNG' }).click()]);
    expect(png.suggestedFilename()).toBe('medsynth-seed3.png');
    const pngBytes = await readFile((await png.path())!);
    const montage = decode(pngBytes);
    expect([montage.width, montage.height]).toEqual([2 * 9 - 1, 2 * 9 - 1]); // 4 axial slices on a 2 x 2 grid

    const [nii] = await Promise.all([page.waitForEvent('download'), el.getByRole('button', { name: 'Download NIfTI' }).click()]);
    expect(nii.suggestedFilename()).toBe('medsynth-seed3.nii.gz');
    const header = new DataView(gunzipSync(await readFile((await nii.path())!)).buffer);
    expect(header.getInt32(0, true)).toBe(348);
    expect([1, 2, 3].map((k) => header.getInt16(40 + 2 * k, true))).toEqual([8, 8, 4]); // x = W, y = H, z = D
  });

  it('embeds in a page on another origin with one script tag and one element, unaffected by the page CSS', async () => {
    const html = `<!doctype html>
<style>button { background: rgb(255, 0, 0) !important; } canvas { display: none !important; }</style>
<script type="module" src="${server.url}/browser/medsynth.js"></script>
<medsynth-generator model="${server.url}/v1/models/default" steps="5" seed="5" backend="wasm"></medsynth-generator>`;
    const other: Server = createServer((_, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(html));
    await new Promise<void>((r) => other.listen(0, 'localhost', r));
    try {
      const embed = await browser.context.newPage();
      // localhost and 127.0.0.1 are different origins.
      await embed.goto(`http://localhost:${(other.address() as AddressInfo).port}/`);
      await embed.waitForFunction(`customElements.get('medsynth-generator') !== undefined`);
      const done = settled(embed);
      const gen = embed.locator('medsynth-generator').getByRole('button', { name: 'Generate' });
      await gen.click();
      expect(await done).toBe('wasm');
      expect(await canvasColours(embed)).toBeGreaterThan(8);
      expect(await gen.evaluate((b) => getComputedStyle(b).backgroundColor)).not.toBe('rgb(255, 0, 0)');
      expect(await embed.locator('medsynth-generator canvas').first().isVisible()).toBe(true);
      await embed.close();
    } finally {
      other.closeAllConnections(); // the browser keeps idle connections open
      await new Promise((r) => other.close(r));
    }
  });

  it("the page picker lists the served models, sets the generator's model, and offers the chosen model's classes", async () => {
    const picker = page.locator('medsynth-model-picker');
    const model = picker.getByRole('combobox', { name: 'Model' });
    const cls = picker.getByRole('combobox', { name: 'Class' });
    const values = (select: Locator) => select.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    await model.locator('option').nth(2).waitFor({ state: 'attached' });
    expect((await values(model)).sort()).toEqual(['default', 'labelled', 'vol']);

    await model.selectOption('labelled');
    expect(await el.getAttribute('model')).toBe(`${server.url}/v1/models/labelled`);
    expect(await values(cls)).toEqual(['', 't1', 'ct']);
    expect(await cls.isEnabled()).toBe(true);
    await cls.selectOption('ct');
    expect(await el.getAttribute('label')).toBe('ct');
    await setAttributes({ steps: '2', seed: '3', backend: 'wasm' });
    const done = settled(page);
    await el.getByRole('button', { name: 'Generate' }).click();
    await done;
    expect(await el.locator('#status').textContent()).toMatch(/^Done: seed 3, 2 ddim steps/);

    // A model without classes: the class is dropped and its select disabled.
    await model.selectOption('vol');
    expect(await el.getAttribute('model')).toBe(`${server.url}/v1/models/vol`);
    expect(await el.getAttribute('label')).toBeNull();
    expect(await values(cls)).toEqual(['']);
    expect(await cls.isDisabled()).toBe(true);

    // A list that cannot be read is said in the picker's status, naming the URL.
    await page.evaluate(() => {
      const bad = Object.assign(document.createElement('medsynth-model-picker'), { id: 'bad' });
      bad.setAttribute('models', '/v1/nothing');
      document.body.append(bad);
    });
    await page.locator('#bad #status').filter({ hasText: /^Could not list/ }).waitFor();
    expect(await page.locator('#bad #status').textContent()).toBe(`Could not list models: GET ${server.url}/v1/nothing: HTTP 404`);
  });
});
