// Peak memory of hostile inputs, measured in a child process (its own
// getrusage maxrss): files that declare 1.5 GiB to 3.6 GB cost only an error
// naming them, and the whole run stays under a stated bound.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const TSX = createRequire(import.meta.url).resolve('tsx');
const PROBE = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'medsynth-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Node, tsx and the probe's own inputs take about 120 MiB; one decoded bomb or 20000^2 image would be over 1.5 GiB. */
const PEAK_BOUND_MIB = 320;

describe('hostile inputs within a stated memory bound', () => {
  it(`a gzip bomb, a 20000x20000 PNG, /dev/zero, a FIFO and a [30000, 30000] manifest: each a named error, peak RSS under ${PEAK_BOUND_MIB} MiB`, async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', TSX, PROBE, dir], { maxBuffer: 1 << 20 }, (e, out, err) => (e ? reject(new Error(`${e.message}\n${err}`)) : resolve(out))),
    );
    const { errors, maxRssMiB } = JSON.parse(stdout) as { errors: Record<string, string>; maxRssMiB: number };
    expect(errors['nii-bomb']).toMatch(/bomb\.nii\.gz: inflates to more than the \d+ bytes its header declares/);
    expect(errors['png-20000']).toMatch(/huge\.png: PNG of 20000x20000 is over the reader limit of 64 M pixels \(MAX_IMAGE_PIXELS\)/);
    expect(errors['dev-zero']).toMatch(/^\/dev\/zero: not a regular file/);
    expect(errors.fifo).toMatch(/pipe\.nii: not a regular file \(a FIFO\)/);
    expect(errors['manifest-30000']).toMatch(/manifest\.json: .*data\.shape\[0\]: .*4096/);
    expect(maxRssMiB).toBeLessThan(PEAK_BOUND_MIB);
  });
});
