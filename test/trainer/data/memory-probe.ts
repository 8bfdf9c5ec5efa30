// Run as a child process by memory.test.ts, so that its peak RSS is its own:
// feeds the hostile inputs of the reader and checkpoint limits to the real
// entry points and prints one JSON line, the error each gave and the peak
// resident memory (getrusage's maxrss) of the whole run.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, memorySource } from '../../../shared/checkpoint/index.ts';
import { readImageFile } from '../../../trainer/data/index.ts';
import { manifestOf, sampleCheckpoint, withManifest } from '../../shared/checkpoint/fixtures.ts';
import { niftiGzipBomb, pngDeclaring } from '../../helpers/hostile-files.ts';

const dir = process.argv[2];
const errors: Record<string, string> = {};
async function attempt(name: string, run: () => Promise<unknown>) {
  errors[name] = await run().then(
    () => 'no error',
    (e: Error) => e.message,
  );
}

const bomb = join(dir, 'bomb.nii.gz');
writeFileSync(bomb, await niftiGzipBomb(1536 << 20)); // 1.5 GiB inflated
await attempt('nii-bomb', () => readImageFile(bomb));
const png = join(dir, 'huge.png');
writeFileSync(png, pngDeclaring(20000, 20000)); // 400 M pixels
await attempt('png-20000', () => readImageFile(png));
await attempt('dev-zero', () => readImageFile('/dev/zero'));
const fifo = join(dir, 'pipe.nii');
execFileSync('mkfifo', [fifo]);
await attempt('fifo', () => readImageFile(fifo));
const { files } = await sampleCheckpoint();
const manifest = manifestOf(files);
await attempt('manifest-30000', () => loadCheckpoint(memorySource(withManifest(files, { ...manifest, data: { ...manifest.data, shape: [30000, 30000] } }))));

process.stdout.write(`${JSON.stringify({ errors, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
