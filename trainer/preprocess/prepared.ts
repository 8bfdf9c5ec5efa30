// The pipeline's product: model-space examples with where they came from and
// the intensity mapping back to real units (pipeline.ts makes it, cache.ts stores it).
import type { IntensityMapping } from '../../shared/intensity.ts';

/** What the pipeline hands to training (and the cache stores). */
export interface Prepared {
  /** Model-space examples in [-1, 1], each of `shape` (row-major, last axis fastest). */
  examples: Float32Array[];
  /** Where each example came from (`file`, or `file#axial=12` for a slice). */
  sources: string[];
  /** For the checkpoint manifest's `data.intensity`: model space -> real units. */
  mapping: IntensityMapping;
  /** The target shape: [D, H, W] or [H, W]. */
  shape: number[];
  /** mm per voxel, same rank as shape. */
  spacing: number[];
  modality?: string;
  /** 'contain' when each example is one whole image (target.fit), so held-out data is split by image. */
  fit?: 'contain';
  /** What was done, one line per step and file. */
  report: string[];
}
