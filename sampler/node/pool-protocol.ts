// The pool's calls (sampler/protocol.ts): `init` loads the model on the
// thread's backend (nativeThreads: the cores onnxruntime may use there) and answers with the backend's name; `generate` answers
// with a GenerateResult, reporting sampler steps.
import type { BackendName } from '../backend.ts';
import type { GenerateOptions, GenerateProgress, GenerateResult } from '../generate.ts';
import type { Call, CancelCall, Reply } from '../protocol.ts';

export type ToThread = Call<{ type: 'init'; model: string; backend?: BackendName; nativeThreads: number }> | Call<{ type: 'generate'; options: GenerateOptions }> | CancelCall;

export type FromThread = Reply<{ backend: string }, never> | Reply<GenerateResult, GenerateProgress>;
