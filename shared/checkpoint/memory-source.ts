// A checkpoint held in memory (a writer's output, a fetched bundle, an R2
// object cache): the same loader path as folders and URLs.
import { CheckpointError, oversizeError } from './errors.ts';
import { fileNameProblem, type CheckpointSource } from './types.ts';

export function memorySource(files: ReadonlyMap<string, Uint8Array>, location = 'memory'): CheckpointSource {
  const loc = location.replace(/\/+$/, '');
  return {
    location: loc,
    async read(file, onBytes, maxBytes) {
      const path = `${loc}/${String(file)}`;
      // Refused as the other sources refuse it, not reported as missing.
      const problem = fileNameProblem(file);
      if (problem) throw new CheckpointError(path, problem);
      const bytes = files.get(file);
      if (bytes === undefined) throw new CheckpointError(path, 'file not found', { missing: true });
      if (maxBytes !== undefined && bytes.length > maxBytes) {
        throw oversizeError(path, bytes.length, maxBytes);
      }
      onBytes?.(bytes.length);
      return bytes;
    },
  };
}
