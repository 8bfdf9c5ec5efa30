// The sampling bench's smoke run: the JSON it writes has every figure the
// issue asks for, per checkpoint and backend. No timing is asserted.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bench/sampling/sampling.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { useBackend } from '../backends.ts';
import { tinyFiles } from '../helpers/tiny-models.ts';
import { nonNegative, positive } from '../helpers/matchers.ts';

let dir: string;
let report: Record<string, any>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medsynth-bench-test-'));
  await useBackend('cpu');
  // A shipped model that ships fp32, so its int8 comparison runs too.
  await writeCheckpointFolder(join(dir, 'model'), (await tinyFiles('ddpm-unet3d')).files);
  const out = await main(['--quick', '--models', join(dir, 'model'), '--out', join(dir, 'report.json')]);
  report = JSON.parse(await readFile(out, 'utf8'));
}, 60_000);

afterAll(() => rm(dir, { recursive: true, force: true }));


describe('bench/sampling --quick', () => {
  it('records the machine, the settings and the backends measured', () => {
    expect(report).toMatchObject({
      bench: 'sampling',
      machine: { cpu: expect.any(String), cores: positive, memoryGiB: positive, node: expect.any(String), tfjs: expect.any(String) },
      settings: { runs: 2, warmup: 1, imageRuns: 2, batch: 1, quick: true },
      backends: { measured: ['wasm'], unavailable: [] },
    });
    expect(report.machine.loadAverage.start).toHaveLength(3);
  });

  it('has latency, FLOPs, kernel split, memory, load times and the int8 comparison for a preset and a shipped model', () => {
    expect(report.results.map((r: any) => [r.source, r.backend])).toEqual([
      ['preset', 'wasm'],
      ['model', 'wasm'],
    ]);
    for (const r of report.results) {
      expect(r.error).toBeUndefined();
      expect(r).toMatchObject({
        checkpoint: { kind: expect.any(String), quantization: 'fp32' },
        sampler: { name: expect.any(String), steps: 2, networkCallsPerStep: 1 },
        latency: { stepMs: positive, networkMs: positive, timeToImageMs: positive, timeToImageCpuMs: positive },
        flops: { gflopPerCall: positive, gflopPerStep: positive, achievedGflopsPerSecond: positive, networkGflopsPerSecond: positive },
        kernels: { convMatmulShare: positive, convMatmulWallShare: positive, kernelMs: positive },
        memory: { tensorPeakMiB: positive, jsHeapMiB: positive, wasmHeapMiB: positive, wasmHeapGrowthMiB: nonNegative, peakRssMiB: positive },
        load: { coldMs: positive, cachedMs: positive, backendInitMs: positive },
        // One volume in the 3D model's comparison, two 2D images in the preset's.
        quantization: { sampler: 'ddim', eta: 0, steps: 2, images: r.source === 'preset' ? 2 : 1, psnrDb: positive, minPsnrDb: positive, sizeRatio: positive },
      });
      expect(r.latency.runs.networkMs).toHaveLength(2);
      expect(r.latency.runs.imageMs).toHaveLength(2);
      expect(r.kernels.convMatmulShare).toBeLessThanOrEqual(1);
      expect(r.kernels.byKernel.some((k: any) => k.name === 'FusedConv2D')).toBe(true);
      expect(r.quantization.sizeRatio).toBeLessThan(1);
    }
  });
});
