// The browser worker's backends and their order (DESIGN §5): webgpu, then
// wasm, then cpu, through the one selection mechanism (../engine-select.ts).
// Each candidate must initialise, and the numeric self-test runs on the one chosen;
// the caller may force one (which then fails loudly) and always learns which
// one runs. A lost WebGPU device is reported once through `onDeviceLost`.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BROWSER_BACKENDS, type BackendReport, type BrowserBackendName } from './protocol.ts';
import { selfTest } from '../self-test.ts';
import { selectEngine, type Candidate } from '../engine-select.ts';

/** The parts of WebGPU this module touches (the DOM typings here do not include WebGPU). */
interface GpuDevice {
  lost: Promise<{ reason: string; message: string }>;
}
interface GpuAdapter {
  info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean };
  /** Before GPUAdapterInfo had it. */
  isFallbackAdapter?: boolean;
}
interface WebGpuBackendLike {
  device: GpuDevice;
  adapterInfo?: { vendor?: string; architecture?: string };
}

export interface SelectOptions {
  force?: BrowserBackendName;
  /** Backends not to try again (e.g. webgpu after its device was lost), with the reason. */
  exclude?: ReadonlyMap<BrowserBackendName, string>;
  /** URL prefix of the tfjs-backend-wasm .wasm binaries. */
  wasmPaths: string;
  /** Called once if the WebGPU device backing the chosen backend is lost. */
  onDeviceLost?: (reason: string) => void;
}


/**
 * Throws unless a hardware WebGPU adapter is there. A fallback adapter is a
 * CPU implementation (SwiftShader): measured over 100x slower than wasm on
 * the 64x64 default model, so the automatic order passes it over; forcing
 * webgpu uses it.
 */
async function checkAdapter(allowSoftware: boolean): Promise<void> {
  const gpu = (navigator as { gpu?: { requestAdapter(o?: object): Promise<GpuAdapter | null> } }).gpu;
  if (!gpu) throw new Error('navigator.gpu is missing (no WebGPU in this browser or context)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter');
  const info = adapter.info ?? {};
  if ((info.isFallbackAdapter ?? adapter.isFallbackAdapter) && !allowSoftware) {
    const what = [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unknown';
    throw new Error(`only a software adapter (${what}), slower than wasm; force the webgpu backend to use it`);
  }
}

/** How each browser backend is made available; the order is BROWSER_BACKENDS. */
function browserCandidates(wasmPaths: string): Record<BrowserBackendName, Candidate> {
  const activate = async (name: BrowserBackendName) => {
    if (!(await tf.setBackend(name))) throw new Error('initialisation failed');
    await tf.ready();
  };
  return {
    webgpu: {
      async register(forced) {
        await checkAdapter(forced);
        // Registers 'webgpu' when navigator.gpu exists; the device is requested by tf.setBackend.
        await import('@tensorflow/tfjs-backend-webgpu');
      },
      activate: () => activate('webgpu'),
    },
    wasm: {
      async register() {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        // Cross-origin isolated pages get the threaded SIMD binary, with XNNPACK threads = logical cores / 2
        // (tfjs's cap, at most 8); elsewhere SIMD on one thread.
        wasm.setWasmPaths(wasmPaths);
      },
      activate: () => activate('wasm'),
    },
    cpu: {
      async register() {}, // registered by the static import
      activate: () => activate('cpu'),
    },
  };
}

/** Backend-specific facts for the report. */
async function describe(name: BrowserBackendName): Promise<Pick<BackendReport, 'threads' | 'adapter'>> {
  if (name === 'wasm') {
    const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
    return { threads: getThreadsCount() };
  }
  if (name === 'webgpu') {
    const info = (tf.backend() as unknown as WebGpuBackendLike).adapterInfo;
    const adapter = [info?.vendor, info?.architecture].filter(Boolean).join(' ');
    return adapter ? { adapter } : {};
  }
  return {};
}

/** The first candidate that initialises, activated, with its self-test result (engine-select.ts). */
export async function selectBrowserBackend(opts: SelectOptions): Promise<BackendReport> {
  const { name, skipped } = await selectEngine(BROWSER_BACKENDS, browserCandidates(opts.wasmPaths), { force: opts.force, exclude: opts.exclude, what: 'backend' });
  const selfTestError = await selfTest();
  if (name === 'webgpu' && opts.onDeviceLost) {
    const onLost = opts.onDeviceLost;
    void (tf.backend() as unknown as WebGpuBackendLike).device.lost.then((info) =>
      onLost(`device lost (${info.reason || 'unknown'})${info.message ? `: ${info.message}` : ''}`),
    );
  }
  return { name, skipped, selfTestError, ...(await describe(name)) };
}

/** Drops a backend whose device is gone, so a later selection never lands on it. */
export function discardBackend(name: BrowserBackendName): void {
  try {
    if (tf.findBackend(name)) tf.removeBackend(name);
  } catch {
    // Disposing a backend on a lost device may throw; it is unusable either way.
  }
}
