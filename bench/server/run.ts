// One bench run: a fresh Node server on loopback, one warm-up request (so
// the model load is not measured), then `clients` concurrent clients POSTing
// sampling requests until `requests` have been sent or `maxSeconds` pass.
// Records every status, latencies, transport failures and RSS every 250 ms.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../../sampler/backend.ts';
import type { ServerConfigInput } from '../../worker/config.ts';
import { startServer } from '../../worker/node/start-server.ts';
import { mean, percentile, round1 } from '../common/stats.ts';

export interface Scenario {
  name: string;
  modelsDir: string;
  model: string;
  /** The sampling request body (a seed is added per request). */
  body: Record<string, unknown>;
  config: ServerConfigInput;
}

export interface RunSettings {
  clients: number;
  requests: number;
  maxSeconds: number;
  /** A client's pause after a 429 or 503 before its next request (Retry-After is not honoured: the point is pressure). */
  backoffMs: number;
  backend?: BackendName;
  /** Sampler threads of the server (startServer's default: 1, on the main thread). */
  threads?: number;
}

/** The statuses a loaded server may answer; anything else, or a lost connection, is a failure. */
export const EXPECTED_STATUSES = [200, 429, 503];

const RSS_EVERY_MS = 250;
const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runOnce(scenario: Scenario, s: RunSettings) {
  const server = await startServer({ modelsDir: scenario.modelsDir, port: 0, host: '127.0.0.1', backend: s.backend, threads: s.threads, config: scenario.config, shutdownGraceMs: 5_000 });
  try {
    const url = `${server.url}/v1/models/${scenario.model}/samples`;
    const post = (seed: number, signal?: AbortSignal) =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...scenario.body, seed }), signal });

    const warm = await post(0);
    if (warm.status !== 200) throw new Error(`${scenario.name}: the warm-up request got ${warm.status}: ${await warm.text()}`);
    await warm.arrayBuffer();
    const tensorsBefore = tf.memory().numTensors;

    const rss: number[] = [];
    const sampleRss = () => rss.push(process.memoryUsage.rss() / MiB);
    sampleRss();
    const sampler = setInterval(sampleRss, RSS_EVERY_MS);
    const cap = AbortSignal.timeout(s.maxSeconds * 1000);

    const statuses = new Map<number, number>();
    const okMs: number[] = [];
    const rejectedMs: number[] = [];
    const failures: string[] = [];
    let sent = 0;
    let cutAtCap = 0;
    const started = performance.now();

    const client = async () => {
      while (sent < s.requests && !cap.aborted) {
        const seed = ++sent;
        const t0 = performance.now();
        try {
          const res = await post(seed, cap);
          const body = await res.arrayBuffer(); // a connection dropped mid-body fails here
          const ms = performance.now() - t0;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 200) okMs.push(ms);
          else if (EXPECTED_STATUSES.includes(res.status)) {
            rejectedMs.push(ms);
            await sleep(s.backoffMs);
          } else failures.push(`HTTP ${res.status}: ${new TextDecoder().decode(body).slice(0, 200)}`);
        } catch (e) {
          if (cap.aborted) cutAtCap++;
          else failures.push(`request ${seed}: ${(e as Error).message}${(e as Error).cause ? ` (${((e as Error).cause as Error).message})` : ''}`);
        }
      }
    };
    await Promise.all(Array.from({ length: s.clients }, client));
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    sampleRss();
    const tensorsAfter = tf.memory().numTensors;
    const health = await (await fetch(`${server.url}/healthz`)).json();

    const quarter = Math.max(1, Math.floor(rss.length / 4));
    const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
    return {
      backend: server.backend.name,
      seconds: round1(seconds),
      sent,
      statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
      failures,
      cutAtCap,
      requestsPerSecond: round1(answered / seconds),
      okPerSecond: round1(okMs.length / seconds),
      okP50Ms: round1(percentile(okMs, 50)),
      okP99Ms: round1(percentile(okMs, 99)),
      rejectedP99Ms: round1(percentile(rejectedMs, 99)),
      rssMiB: {
        peak: round1(Math.max(...rss)),
        firstQuarterMean: round1(mean(rss.slice(0, quarter))),
        lastQuarterMean: round1(mean(rss.slice(-quarter))),
        samples: rss.length,
      },
      // With the model loaded before and after: a difference is a per-request tensor leak.
      tensors: { before: tensorsBefore, after: tensorsAfter },
      healthAfter: health,
    };
  } finally {
    await server.close();
  }
}

export type RunResult = Awaited<ReturnType<typeof runOnce>>;
