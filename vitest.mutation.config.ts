// The tests Stryker runs against one module's mutants (scripts/mutation.ts
// sets MEDSYNTH_MUTATION_TESTS to that module's own unit tests): a mutant in
// shared/rng.ts is judged by the RNG's tests, not by every sampler test that
// draws noise through the instrumented, much slower, RNG.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

const tests = process.env.MEDSYNTH_MUTATION_TESTS;
if (!tests) throw new Error('vitest.mutation.config.ts: run it through `npm run test:mutation` (MEDSYNTH_MUTATION_TESTS is not set)');

// Spread, not mergeConfig: mergeConfig would append to the base's include list.
export default defineConfig({
  ...base,
  test: { ...base.test, include: tests.split(',') },
});
