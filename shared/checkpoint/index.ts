// The checkpoint format (DESIGN §4): writer, hostile-input loader, sources.
export { CheckpointError, describeError } from './errors.ts';
export type { CheckpointErrorOptions } from './errors.ts';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  MANIFEST_FILE,
  ManifestSchema,
  SHARD_FILE_RE,
  ShardSpecSchema,
  TensorSpecSchema,
  labelData,
  parseManifest,
  shardFileName,
  validateManifest,
} from './manifest.ts';
export type { LabelData, Manifest, ShardSpec, TensorSpec } from './manifest.ts';
export {
  FP16_MAX,
  bytesToFloat32,
  decodeFloat16,
  dequantizeInt8,
  encodeFloat16,
  float16BitsToFloat32,
  float32ToBytes,
  float32ToFloat16Bits,
  quantizeInt8,
} from './quantize.ts';
export { decodeShard, encodeShard, sha256Hex } from './shard.ts';
export { DEFAULT_SHARD_BYTES, encodeCheckpoint } from './writer.ts';
export type { CheckpointMeta, EncodeOptions, Quantization } from './writer.ts';
export { loadCheckpoint, readManifest } from './loader.ts';
export type { LoadOptions, LoadProgress } from './loader.ts';
export { memorySource } from './memory-source.ts';
export { BYTES_PER_ELEMENT, DEFAULT_LIMITS, DTYPES, fileNameProblem, resolveLimits } from './types.ts';
export type { CheckpointSource, Dtype, HostTensor, Int8Form, Limits, StoredTensor } from './types.ts';
