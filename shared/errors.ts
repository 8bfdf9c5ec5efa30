// What kind of failure an error is, carried by the error itself so that every
// front (the CLI's exit code, the HTTP status) follows from it without
// listing the lower layers' error classes:
//   bad-input  the user's arguments, files or settings are wrong (exit 2);
//   cancelled  the user stopped the work (exit 130, as shells report SIGINT);
//   failure    anything else: a bug or the machine (exit 1).

export type ErrorKind = 'bad-input' | 'failure' | 'cancelled';

/** The base of every error caused by what the user gave: arguments, files, configs, checkpoints. */
export class BadInputError extends Error {
  readonly kind: ErrorKind = 'bad-input';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BadInputError';
  }
}

/** The user stopped the work (Ctrl-C, an aborted request). */
export class CancelledError extends Error {
  readonly kind: ErrorKind = 'cancelled';
  constructor(message = 'cancelled', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CancelledError';
  }
}

/**
 * The kind of any thrown value: its own `kind`, else an AbortError (the DOM's
 * name for an aborted operation) is cancelled, and Node's parseArgs errors
 * (unknown or malformed options) are bad input; everything else is a failure.
 */
export function errorKind(e: unknown): ErrorKind {
  if (e instanceof BadInputError || e instanceof CancelledError) return e.kind;
  if (e instanceof Error) {
    if (e.name === 'AbortError') return 'cancelled';
    if ((e as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) return 'bad-input';
  }
  return 'failure';
}
