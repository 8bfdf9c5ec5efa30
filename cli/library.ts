// The package's Node entry (`import ... from 'medsynth'`): the front door for
// code, as main.ts is for shells. Re-exports only; every name is documented
// where it is defined.
export { BACKEND_NAMES, selectBackend, type BackendChoice, type BackendName } from '../sampler/backend.ts';
export { loadModel, type LoadedModel } from '../sampler/load.ts';
export { generate, type GenerateOptions, type GenerateProgress, type GenerateResult } from '../sampler/generate.ts';
export { createGenerator, type NodeGenerateResult, type NodeGenerator, type NodeGeneratorOptions, type NodeProgress } from '../sampler/node/generator.ts';
export { defaultCacheDir } from '../sampler/node/disk-cache.ts';
export { encodeByExtension, encodeMontagePng, encodeNifti, encodePng, type GeneratedImage } from '../sampler/encode/index.ts';
export { folderSource } from '../sampler/node/folder-source.ts';
export { urlSource } from '../sampler/url-source.ts';
export { CheckpointError, memorySource, type CheckpointSource } from '../shared/checkpoint/index.ts';
export { BadInputError, CancelledError, errorKind } from '../shared/errors.ts';
export { decodeDicom, decodeJpeg, decodeNifti, decodePng, readDataset, readImageFile, ReadError, type Volume } from '../trainer/data/index.ts';
export { evaluateCheckpoint, type EvaluateOptions, type EvaluationReport } from '../trainer/evaluate/evaluate.ts';
export { DEFAULT_MODEL } from '../sampler/node/package-files.ts';
