// Process entry for the CLI: run, set the exit code. (tfjs is loaded only by the
// commands that use it, so --help and --version start fast.)
import { main } from './main.ts';

export async function run(argv: string[]): Promise<void> {
  // `medsynth inspect ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  process.exitCode = await main(argv);
}
