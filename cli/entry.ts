// Process entry for the CLI: quiet tfjs's console banner, run, set the exit code.
import * as tf from '@tensorflow/tfjs-core';
import { main } from './main.ts';

export async function run(argv: string[]): Promise<void> {
  // `medsynth inspect ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  tf.enableProdMode(); // also silences tfjs's "running in Node.js" banner
  process.exitCode = await main(argv);
}
