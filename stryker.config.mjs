// Stryker's settings for `npm run test:mutation` (scripts/mutation.ts runs it
// once per core module, with that module's files to mutate and its tests).
const module = process.env.MEDSYNTH_MUTATION_MODULE ?? 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  // Mutants that do not type-check are not bugs a test must catch.
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  reporters: ['clear-text', 'html', 'json', 'progress'],
  htmlReporter: { fileName: `reports/mutation/${module}.html` },
  jsonReporter: { fileName: `reports/mutation/${module}.json` },
  concurrency: Number(process.env.MEDSYNTH_MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 60_000,
  dryRunTimeoutMinutes: 30,
  tempDirName: '.cache/stryker-tmp',
  cleanTempDir: 'always',
};
