// GET / — the demo page: <medsynth-generator> on the served default model,
// generating in the visitor's browser, with a <medsynth-model-picker> over
// every model served here (and its classes), a short explanation and the
// HTTP API. It is the one HTML page, so it gets the cross-origin isolation headers
// (COOP + COEP, in app.ts) that browser wasm threads need (DESIGN §5).

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The page for a server at `origin` (shown in the embedding snippet). */
export function demoPage(origin: string): string {
  const o = escapeHtml(origin);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>medsynth: synthetic medical images in your browser</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1f2937; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; }
pre { background: #f3f4f6; padding: 0.8rem; overflow-x: auto; }
medsynth-model-picker { margin-top: 1.5rem; }
medsynth-generator { margin: 0.8rem 0 1.5rem; }
</style>
<script type="module" src="/browser/medsynth.js"></script>
</head>
<body>
<main>
<h1>medsynth</h1>
<p>Synthetic medical images from diffusion models, generated <strong>in your browser</strong>.
Press <em>Generate</em>: the model's weights download once (verified by sha256, then kept in the
browser's cache for the next visit), and the sampler runs in a background worker on WebGPU when the
browser has it, else WebAssembly (multi-threaded on this page), else plain JavaScript. The backend
that ran is shown; nothing is sent to the server. 3D models show axial, coronal and sagittal slices
with window/level; the image downloads as PNG or NIfTI.</p>
<medsynth-model-picker for="generator"></medsynth-model-picker>
<medsynth-generator id="generator" model="/v1/models/default"></medsynth-generator>
<p>It starts on the model this server serves as <code>default</code>; the picker lists every model
served here (<a href="/v1/models">GET /v1/models</a>: names, classes, sizes) and, for a
class-conditional model, the class to draw. Each model samples with its own manifest's sampler and
steps. Not for clinical use.</p>
<h2>On your own page</h2>
<pre>&lt;script type="module" src="${o}/browser/medsynth.js"&gt;&lt;/script&gt;
&lt;medsynth-generator model="${o}/v1/models/default"&gt;&lt;/medsynth-generator&gt;</pre>
<p>Attributes: <code>model</code>, <code>steps</code>, <code>sampler</code> (ddpm, ddim, dpm-solver++, vdm),
<code>seed</code>, <code>label</code>, <code>backend</code> (webgpu, wasm, cpu). Add
<code>&lt;medsynth-model-picker for="<i>generator id</i>" models="${o}/v1/models"&gt;</code> for the chooser.</p>
<h2>HTTP API</h2>
<ul>
<li><a href="/v1/models">GET /v1/models</a>: the models served here</li>
<li>GET /v1/models/:id/manifest.json and /v1/models/:id/weights-NNNNN.msgpack: checkpoints for in-browser sampling</li>
<li>POST /v1/models/:id/samples: server-side sampling (JSON body: count, steps, sampler, seed, guidance, label, output png|nifti|json)</li>
<li><a href="/healthz">GET /healthz</a></li>
</ul>
</main>
</body>
</html>
`;
}
