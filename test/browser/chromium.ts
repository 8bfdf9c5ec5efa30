// Real headless Chromium for the browser suites (DESIGN §5): Debian's
// chromium driven by playwright-core, a fresh profile per launch, WebGPU on
// SwiftShader. The suites skip, with the reason, only where no chromium can
// be found; under CI (which installs it) a missing chromium is a failure.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { buildBrowser } from '../../scripts/build-browser.ts';

export const CHROMIUM = process.env.MEDSYNTH_CHROMIUM || '/usr/bin/chromium';

/** Why the browser suites cannot run here, or undefined when they can. */
export const NO_CHROMIUM: string | undefined = existsSync(CHROMIUM)
  ? undefined
  : `no chromium at ${CHROMIUM}: run scripts/install-chromium.sh (or set MEDSYNTH_CHROMIUM)`;
if (NO_CHROMIUM && process.env.CI) throw new Error(`${NO_CHROMIUM}; CI installs it in .ci/run`);

/** Where screenshots and other browser artifacts go (git-ignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/browser/', import.meta.url));

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // A SwiftShader WebGPU adapter where no GPU is (DESIGN §5).
  '--enable-unsafe-webgpu',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh profile (so a fresh Cache API), closed and deleted by close(). */
export async function launchChromium(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'medsynth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The bundle the server hands out, rebuilt only when a source changed (esbuild: about a second). */
export async function ensureBundle(): Promise<void> {
  await buildBrowser({ ifStale: true });
  await mkdir(ARTIFACTS, { recursive: true });
}

/**
 * Opens `url`'s demo page in a fresh Chromium, asks its <medsynth-generator>
 * for `steps` steps and waits for the result: resolves to the backend that
 * generated, rejects with the element's error. Whether the page was cross-origin
 * isolated comes back too (SharedArrayBuffer, wasm threads).
 */
export async function generateOnDemoPage(url: string, steps: number): Promise<{ backend: string; isolated: boolean }> {
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.goto(url);
    const isolated = (await page.evaluate('crossOriginIsolated')) as boolean;
    const el = page.locator('medsynth-generator');
    await el.evaluate((node, n) => node.setAttribute('steps', String(n)), steps);
    const done = page.evaluate(`new Promise((resolve, reject) => {
      const el = document.querySelector('medsynth-generator');
      el.addEventListener('medsynth-result', (e) => resolve(e.detail.backend.name), { once: true });
      el.addEventListener('medsynth-error', (e) => reject(new Error(e.detail.message)), { once: true });
    })`) as Promise<string>;
    await el.getByRole('button', { name: 'Generate' }).click();
    return { backend: await done, isolated };
  } finally {
    await browser.close();
  }
}

/**
 * Runs `code` as a module of the page at `url` (served as a same-origin
 * script, so the page's CSP allows it) and returns what the module exports as
 * `exportName`, JSON-cloned.
 */
export async function runModuleOnPage(url: string, code: string, exportName: string): Promise<unknown> {
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.route('**/__medsynth-test-module.js', (r) => r.fulfill({ contentType: 'text/javascript', body: code }));
    await page.goto(url);
    // A string, not a function: vitest would rewrite a function's import() into its own loader.
    return await page.evaluate(`import('/__medsynth-test-module.js').then((m) => JSON.parse(JSON.stringify(m[${JSON.stringify(exportName)}])))`);
  } finally {
    await browser.close();
  }
}
