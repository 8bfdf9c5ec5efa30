// Engine selection, one mechanism for Node (backend.ts) and the browser
// (browser/backends.ts): try each candidate in the platform's order (data,
// not code), skip those that fail with the reason, and report which runs. A
// candidate's registration (importing its package, probing its device) is
// attempted once per process and its outcome kept: the second selection of a
// backend that failed says why without trying again (DESIGN §5).

export interface Candidate {
  /** Makes the backend available; throws why it cannot be. `forced`: the caller asked for this one by name. */
  register(forced: boolean): Promise<void>;
  /** Activates it (tf.setBackend and ready) and checks it works; throws why not. May say what it runs on (Selection.detail). */
  activate(): Promise<string | void>;
}

export interface Selection<N extends string> {
  name: N;
  /** Why earlier candidates were passed over, e.g. "tensorflow: not installed". */
  skipped: string[];
  /** What the chosen one runs on, where it has a choice of its own (onnxruntime: "cpu (cuda: ...)"). */
  detail?: string;
}

/** The selection for logs: "onnxruntime: cpu (...) (skipped tensorflow: ...)". */
export function describeChoice(c: Selection<string>): string {
  return `${c.name}${c.detail ? `: ${c.detail}` : ''}${c.skipped.length ? ` (skipped ${c.skipped.join('; ')})` : ''}`;
}

export function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : ((e as { message?: string })?.message ?? e)).split('\n')[0];
}

const registrations = new Map<string, Promise<void>>();

/** `candidate.register` once per process and name (a forced retry of a failed automatic probe runs again). */
function registerOnce(name: string, candidate: Candidate, forced: boolean): Promise<void> {
  const key = `${name}${forced ? ':forced' : ''}`;
  let p = registrations.get(key);
  if (!p) {
    p = candidate.register(forced);
    p.catch(() => {}); // kept for the next caller; reported there
    registrations.set(key, p);
  }
  return p;
}

/**
 * The first of `order` (or only `force`) that registers and activates.
 * `exclude` names candidates not to try, with the reason (a lost device).
 */
export async function selectEngine<N extends string>(
  order: readonly N[],
  candidates: Record<N, Candidate>,
  opts: { force?: N; exclude?: ReadonlyMap<N, string>; what: string },
): Promise<Selection<N>> {
  const tried: readonly N[] = opts.force ? [opts.force] : order;
  const skipped: string[] = [];
  for (const name of tried) {
    const excluded = opts.exclude?.get(name);
    if (excluded !== undefined) {
      skipped.push(`${name}: ${excluded}`);
      continue;
    }
    try {
      await registerOnce(name, candidates[name], opts.force === name);
      const detail = await candidates[name].activate();
      return { name, skipped, ...(detail ? { detail } : {}) };
    } catch (e) {
      skipped.push(`${name}: ${firstLine(e)}`);
    }
  }
  throw new Error(`no ${opts.what} could be initialised (${skipped.join('; ')})`);
}
