// GET /openapi.json: the HTTP API (DESIGN §6) as an OpenAPI 3.1 document.
// The request body's schema is converted from the zod schemas that validate
// it (the request plan's fields under this server's limits, and its own
// `output`), so the document cannot drift from what is accepted; a test
// checks that every route of the app is described here.
import { z } from 'zod';
import { requestFieldSchemas } from '../shared/request-plan.ts';
import type { ServerConfig } from './config.ts';
import { SERVER_FIELDS } from './sample-request.ts';

const ERROR = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message'],
      properties: {
        message: { type: 'string' },
        issues: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
};

const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));
const MODEL_ID = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' } };

export function openApiDocument(config: ServerConfig): Record<string, unknown> {
  const body = z.toJSONSchema(z.strictObject({ ...requestFieldSchemas(config), ...SERVER_FIELDS }).partial(), { io: 'input', target: 'draft-2020-12' });
  delete (body as { $schema?: string }).$schema;
  return {
    openapi: '3.1.0',
    info: { title: 'medsynth', version: '1.0.0', // the /v1 API's version, not the package's
      description: 'Synthetic medical images from diffusion models: checkpoints and server-side sampling.' },
    paths: {
      '/': { get: { summary: 'the demo page, generating in the browser', responses: { 200: { description: 'HTML' } } } },
      '/healthz': { get: { summary: 'liveness and queue state', responses: { 200: { description: '{ ok, sampling, active, queued }' } } } },
      '/openapi.json': { get: { summary: 'this document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
      '/browser/{file}': {
        get: { summary: 'the browser bundle', parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'JavaScript or wasm' }, ...errors(404) } },
      },
      '/v1/models': { get: { summary: 'the models in storage', responses: { 200: { description: '{ models: [...] }; a model whose manifest is unusable has { id, error }' } } } },
      '/v1/models/{id}/{file}': {
        get: {
          summary: "a checkpoint's manifest.json or weights-NNNNN.msgpack shard: strong ETag, 304, 206 ranges",
          parameters: [MODEL_ID, { name: 'file', in: 'path', required: true, schema: { type: 'string', pattern: '^(manifest\\.json|weights-\\d{5}\\.msgpack)$' } }],
          responses: { 200: { description: 'the file' }, 206: { description: 'the range asked for' }, 304: { description: 'unchanged' }, ...errors(400, 404, 416) },
        },
      },
      '/v1/models/{id}/samples': {
        post: {
          summary: "generate images; defaults from the model's manifest",
          parameters: [MODEL_ID],
          security: config.apiKey ? [{ bearer: [] }] : [],
          requestBody: { required: true, content: { 'application/json': { schema: body } } },
          responses: {
            200: {
              description: 'PNG (a montage for several images), gzip NIfTI-1, or JSON of float32 values; with Accept: text/event-stream, SSE progress events then result or error',
              headers: { 'X-Medsynth-Seed': { schema: { type: 'string' } }, 'X-Medsynth-Steps': { schema: { type: 'string' } }, 'X-Medsynth-Sampler': { schema: { type: 'string' } } },
              content: { 'image/png': {}, 'application/gzip': {}, 'application/json': {}, 'text/event-stream': {} },
            },
            ...errors(400, 401, 404, 408, 413, 415, 422, 429, 501, 502, 503, 504),
          },
        },
      },
    },
    components: { schemas: { Error: ERROR }, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}
