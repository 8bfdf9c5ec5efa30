// Sampler names, without tfjs: the Worker validates requests against them
// without bundling any sampler code.
export const SAMPLER_NAMES = ['ddpm', 'ddim', 'dpm-solver++', 'vdm'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];
