// Every checkpoint failure names the file (path or URL) and the reason, so a
// user can tell a truncated download from a corrupted or hostile checkpoint.
import { BadInputError } from '../errors.ts';

export interface CheckpointErrorOptions {
  cause?: unknown;
  /** The file does not exist (ENOENT, HTTP 404): lets the loader say "missing shard". */
  missing?: boolean;
}

export class CheckpointError extends BadInputError {
  readonly file: string;
  readonly reason: string;
  readonly missing: boolean;

  constructor(file: string, reason: string, options: CheckpointErrorOptions = {}) {
    super(`${file}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CheckpointError';
    this.file = file;
    this.reason = reason;
    this.missing = options.missing ?? false;
  }
}

/** The error every source gives for a file over its `maxBytes` (CheckpointSource.read). */
export function oversizeError(file: string, bytes: number, maxBytes: number): CheckpointError {
  return new CheckpointError(file, `file is ${bytes} bytes, more than the expected ${maxBytes}`);
}

/** A short description of any thrown value, for wrapping foreign errors. */
export function describeError(e: unknown): string {
  if (e instanceof CheckpointError) return e.reason;
  if (e instanceof Error) return e.message;
  return String(e);
}
