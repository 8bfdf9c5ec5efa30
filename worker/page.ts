// GET / — the landing page. It is the one HTML page, so it gets the
// cross-origin isolation headers (COOP + COEP) that browser-side wasm threads
// need (DESIGN §5); the in-browser sampler's web component will mount here.
export const LANDING_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>medsynth</title>
</head>
<body>
<h1>medsynth</h1>
<p>Synthetic medical images from diffusion models. Not for clinical use.</p>
<ul>
<li><a href="/v1/models">GET /v1/models</a>: the models served here</li>
<li>GET /v1/models/:id/manifest.json and /v1/models/:id/weights-NNNNN.msgpack: checkpoints for in-browser sampling</li>
<li>POST /v1/models/:id/samples: server-side sampling (JSON body: count, steps, sampler, seed, guidance, label, output png|nifti|json)</li>
<li><a href="/healthz">GET /healthz</a></li>
</ul>
</body>
</html>
`;
