// inspect verifies with exactly the loader `sample` uses: every checkpoint
// that sample refuses, inspect refuses with the same message.
import { beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/checkpoint/index.ts';
import { inspectCheckpoint } from '../../sampler/inspect.ts';
import { loadModel } from '../../sampler/load.ts';
import { useBackend } from '../backends.ts';
import { tinyFiles } from '../helpers/tiny-models.ts';

beforeAll(() => useBackend('cpu'));

type Json = Record<string, any>;
async function mutated(change: (m: Json) => void) {
  const { files } = await tinyFiles('ddpm-unet2d');
  const m = JSON.parse(new TextDecoder().decode(files.get('manifest.json')!)) as Json;
  change(m);
  const out = new Map(files);
  out.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
  return memorySource(out, 'mem://mutated');
}

describe('inspect and sample agree', () => {
  it('reports what it verified for a good checkpoint', async () => {
    const { files, manifest } = await tinyFiles('ddpm-unet2d');
    const { lines, report } = await inspectCheckpoint(memorySource(files, 'mem://ok'));
    expect(lines.join('\n')).toMatch(/verified: .*\n {2}the model config, labels, data shape, sampler and schedule fit the weights/);
    // The report (inspect --json) says the same things as the text.
    expect(report).toMatchObject({ checkpoint: 'mem://ok', name: manifest.name, kind: manifest.kind, quantization: manifest.quantization, tensors: manifest.tensors.length });
    expect(report.shards).toEqual(manifest.shards.map(({ file, bytes, sha256 }) => ({ file, bytes, sha256 })));
    expect(lines).toContain(`weights: ${report.tensors} tensors, ${report.parameters.toLocaleString('en-US')} parameters, ${report.quantization}, ${report.shards.length} shard(s), ${(report.bytes / 2 ** 20).toFixed(2)} MiB`);
    expect(report.verified).toHaveLength(2);
  });

  it.each([
    ['an unknown kind', (m: Json) => (m.kind = 'ddpm-unet9d'), /unknown model kind "ddpm-unet9d"/],
    ['zero attention heads', (m: Json) => (m.model.heads = 0), /heads/],
    ['a schedule with T = 0', (m: Json) => (m.schedule.T = 0), /schedule\.T/],
    ['an unknown sampler', (m: Json) => (m.sampler.name = 'euler'), /sampler\.name: unknown sampler "euler"/],
    ['more sampler steps than the schedule has, naming the manifest', (m: Json) => (m.sampler.steps = 1e9), /^mem:\/\/mutated\/manifest\.json: sampler\.steps: 1000000000 is more steps than the schedule has \(at most \d+\)$/],
    ['channels that do not fit the network', (m: Json) => (m.data.channels = 3), /data\.shape\/data\.channels do not fit the model/],
  ])('%s', async (_, change, message) => {
    const source = await mutated(change);
    const fromSample = await loadModel(source).then(
      () => 'loaded',
      (e: Error) => e.message,
    );
    const fromInspect = await inspectCheckpoint(source).then(
      () => 'verified',
      (e: Error) => e.message,
    );
    expect(fromSample).toMatch(message);
    expect(fromInspect).toBe(fromSample);
  });
});
