// The package as a user gets it: `npm pack` (which builds dist/), the tarball
// installed into an empty folder outside this tree, and the README's
// snippets run there with plain node: the CLI, the Node API, the server
// entry mounted in a fresh Hono app, the installed browser bundle in
// Chromium, a strict TypeScript consumer, publint and attw.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decode } from 'fast-png';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOnDemoPage, NO_CHROMIUM, runModuleOnPage } from '../browser/chromium.ts';
import { ROOT } from '../helpers/cli-process.ts';

const require = createRequire(import.meta.url);
const TSC = require.resolve('typescript/bin/tsc');
const ATTW = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist', 'index.js');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const dir = mkdtempSync(join(tmpdir(), 'medsynth-consumer-'));
let tarball: string;
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

// A consumer's strict TypeScript settings. skipLibCheck: tfjs's own .d.ts files do not pass a strict check of library files.
const STRICT = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], strict: true, skipLibCheck: true, noEmit: true, types: ['node'] } };

function run(cmd: string, args: string[], cwd = dir): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, npm_config_loglevel: 'error' } }, (e, out, err) =>
      e ? reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}\n${out}\n${err}`)) : resolve(out),
    ),
  );
}

beforeAll(async () => {
  await run(NPM, ['pack', ROOT, '--pack-destination', dir]);
  tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // From npm's cache where it can (the lock's packages are there after `npm ci`); no native backends.
  await run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', `./${tarball}`, '@types/node@20']);
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the installed package', () => {
  it('ships compiled JS and types, not the TypeScript sources, tests or benches', () => {
    const pkg = join(dir, 'node_modules', 'medsynth');
    expect(existsSync(join(pkg, 'dist', 'node', 'cli', 'library.js'))).toBe(true);
    expect(existsSync(join(pkg, 'dist', 'node', 'cli', 'library.d.ts'))).toBe(true);
    expect(existsSync(join(pkg, 'dist', 'web', 'browser', 'medsynth.js'))).toBe(true);
    for (const absent of ['cli', 'sampler', 'shared', 'trainer', 'worker', 'test', 'bench']) expect(existsSync(join(pkg, absent)), absent).toBe(false);
    // The bin runs without tsx (a development dependency, not installed here).
    expect(existsSync(join(dir, 'node_modules', 'tsx'))).toBe(false);
  });

  it('passes publint (package.json against the files it ships) and attw (types resolve for every entry, ESM-only)', async () => {
    const { messages } = await publint({ pkgDir: join(dir, 'node_modules', 'medsynth'), pack: false, level: 'suggestion' });
    expect(messages).toEqual([]);
    // Exits non-zero on any problem; node10 and require() resolution are out of scope for an ESM-only package.
    await run(process.execPath, [ATTW, tarball, '--profile', 'esm-only']);
  });

  it('runs the medsynth command: --version, and sample writes a PNG', async () => {
    const bin = join(dir, 'node_modules', '.bin', 'medsynth');
    expect((await run(bin, ['--version'])).trim()).toBe(version);
    await run(bin, ['sample', '--out', 'cli.png', '--steps', '2', '--count', '2', '--quiet']);
    const png = decode(readFileSync(join(dir, 'cli.png')));
    expect(png.width).toBeGreaterThanOrEqual(128); // a montage of two 64x64 images
  });

  it("runs the README's Library snippets as written: type-checked strictly, then with node", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Library'), readme.indexOf('\n## What is inside'));
    const snippets = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(snippets.length).toBe(3); // loadModel/generate, createGenerator, the server in a Hono app
    const files = snippets.map((code, i) => {
      writeFileSync(join(dir, `readme-${i}.ts`), code);
      writeFileSync(join(dir, `readme-${i}.mjs`), code); // the snippets are plain JS too: node runs them as written
      return `readme-${i}.ts`;
    });
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...STRICT, files }));
    await run(process.execPath, [TSC, '-p', '.']);
    for (const [i] of snippets.entries()) await run(process.execPath, [`readme-${i}.mjs`]);
    // A montage of two 64x64 images from the first, one image from the server.
    expect(decode(readFileSync(join(dir, 'out.png'))).width).toBeGreaterThanOrEqual(128);
    const served = decode(readFileSync(join(dir, 'server.png')));
    expect([served.width, served.height]).toEqual([64, 64]);
  }, 600_000); // 20-step images on wasm; the bound only catches a hang

  it("runs the README's Node API and mounts the server entry in a fresh Hono app", async () => {
    writeFileSync(
      join(dir, 'api.mjs'),
      `import { writeFileSync } from 'node:fs';
import { createGenerator, DEFAULT_MODEL, encodePng, generate, loadModel, selectBackend } from 'medsynth';
import { createApp, folderStorage, localSampler } from 'medsynth/server';
import { Hono } from 'hono';
await selectBackend('wasm');
const model = await loadModel(DEFAULT_MODEL);
const { images } = await generate(model, { steps: 2, seed: 1 });
writeFileSync('api.png', encodePng(images[0]));
model.dispose();
const generator = createGenerator({ model: DEFAULT_MODEL, backend: 'wasm' });
const phases = new Set();
const result = await generator.generate({ steps: 2, seed: 1 }, { onProgress: (p) => phases.add(p.phase) });
generator.dispose();
const models = new URL('./node_modules/medsynth/models', import.meta.url).pathname;
const app = new Hono().route('/medsynth', createApp({ storage: folderStorage(models), sampler: localSampler(models) }));
const res = await app.request('/medsynth/v1/models/default/samples', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"steps":2}' });
writeFileSync('server.png', new Uint8Array(await res.arrayBuffer()));
console.log(JSON.stringify({ status: res.status, type: res.headers.get('content-type'), phases: [...phases], same: result.images[0].data.every((v, i) => v === images[0].data[i]) }));
`,
    );
    const out = JSON.parse((await run(process.execPath, ['api.mjs'])).trim().split('\n').at(-1)!);
    expect(out).toEqual({ status: 200, type: 'image/png', phases: ['backend', 'download', 'steps'], same: true });
    for (const f of ['api.png', 'server.png']) expect([decode(readFileSync(join(dir, f))).width, decode(readFileSync(join(dir, f))).height], f).toEqual([64, 64]);
  });

  it.skipIf(NO_CHROMIUM)("serves the installed browser bundle with `medsynth serve`: the demo page and the README's browser snippet generate in Chromium", async () => {
    const server = spawn(join(dir, 'node_modules', '.bin', 'medsynth'), ['serve', '--port', '0', '--host', '127.0.0.1', '--backend', 'cpu'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => server.once('exit', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let log = '';
        server.stdout.on('data', (d) => {
          log += d;
          const m = /serving .* at (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
          if (m) resolve(m[1]);
        });
        server.stderr.on('data', (d) => (log += d));
        server.once('exit', (code) => reject(new Error(`medsynth serve exited (${code}):\n${log}`)));
      });
      const served = Buffer.from(await (await fetch(`${url}/browser/medsynth.js`)).arrayBuffer());
      expect(served.equals(readFileSync(join(dir, 'node_modules', 'medsynth', 'dist', 'web', 'browser', 'medsynth.js')))).toBe(true);
      expect(await generateOnDemoPage(`${url}/`, 2)).toEqual({ backend: 'wasm', isolated: true });
      // The README's browser snippet as written, with 'medsynth/browser' mapped to the installed
      // entry as a bundler or import map would, and its result exported for the test to read.
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const snippet = /Programmatic use[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1];
      const code = `${snippet.replace("from 'medsynth/browser'", "from '/browser/medsynth.js'")}\nexport { r };\n`;
      const r = (await runModuleOnPage(`${url}/`, code, 'r')) as { images: { shape: number[] }[]; backend: { name: string }; steps: number };
      expect([r.images[0].shape, r.backend.name, r.steps]).toEqual([[64, 64, 1], 'wasm', 20]);
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
  });

  it('type-checks a consumer of ".", "./server" and "./browser" under strict settings', async () => {
    writeFileSync(
      join(dir, 'consumer.ts'),
      `import { DEFAULT_MODEL, encodePng, generate, loadModel, type GenerateResult } from 'medsynth';
import { createApp, folderStorage } from 'medsynth/server';
import { createGenerator, type BrowserGenerateOptions } from 'medsynth/browser';
const model = await loadModel(DEFAULT_MODEL);
const result: GenerateResult = await generate(model, { steps: 2, seed: 1 });
const png: Uint8Array = encodePng(result.images[0]);
const app = createApp({ storage: folderStorage('models') });
const options: BrowserGenerateOptions = { steps: 2 };
console.log(png.length, app.routes.length, options, typeof createGenerator);
`,
    );
    const config = { ...STRICT, files: ['consumer.ts'] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
    await run(process.execPath, [TSC, '-p', '.']);
    // And a wrong use is caught, so the types are really there.
    writeFileSync(join(dir, 'wrong.ts'), `import { loadModel } from 'medsynth';\nconst n: number = (await loadModel('x')).manifest.name;\nconsole.log(n);\n`);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...config, files: ['wrong.ts'] }));
    await expect(run(process.execPath, [TSC, '-p', '.'])).rejects.toThrow(/wrong\.ts\(2,7\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });
});
