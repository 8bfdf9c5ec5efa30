// Patient ids for a set of whole images, from the metadata table that public
// radiograph collections ship beside them (`metadata.csv` in the images'
// folder or the one above it, as ../shared/data/cxr has): a `file` column
// (paths relative to the table's folder) and a patient column (`patient`,
// `patientid`, `patient_id`, any case). With one, held-out images are chosen
// by patient, so no patient has images on both sides (trainer/dataset.ts);
// without a table, or a table without patient ids, by image.
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { ConfigError } from '../../shared/config.ts';

export const METADATA_TABLE = 'metadata.csv';
const PATIENT_COLUMNS = ['patient', 'patientid', 'patient_id'];
/** Tables are read whole: a metadata table over this is refused before it is read. */
const MAX_TABLE_BYTES = 64 << 20;

export interface PatientTable {
  /** The table's path. */
  table: string;
  /** The patient column's name, as the table spells it. */
  column: string;
  /** Each source's patient id, in the order of `sources`. */
  ids: string[];
}

async function findTable(sources: readonly string[]): Promise<string | undefined> {
  const folder = dirname(resolve(sources[0]));
  for (const dir of [folder, dirname(folder)]) {
    const path = join(dir, METADATA_TABLE);
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile()) return path;
  }
  return undefined;
}

/**
 * The patients of whole-image `sources` (file paths), or undefined when no
 * table beside them has a patient column. A table with one must list every
 * source: a missing file is an error naming it (a silent fallback to by-image
 * could put a patient on both sides).
 */
export async function patientsOf(sources: readonly string[]): Promise<PatientTable | undefined> {
  if (sources.length === 0) return undefined;
  const table = await findTable(sources);
  if (!table) return undefined;
  const size = (await stat(table)).size;
  if (size > MAX_TABLE_BYTES) throw new ConfigError(table, `is ${size} bytes, over the ${MAX_TABLE_BYTES}-byte limit for a metadata table`);
  let rows: Record<string, string>[];
  try {
    rows = parse(await readFile(table, 'utf8'), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (e) {
    throw new ConfigError(table, `is not a readable CSV table (${(e as Error).message})`);
  }
  const header = rows.length ? Object.keys(rows[0]) : [];
  const column = header.find((h) => PATIENT_COLUMNS.includes(h.toLowerCase()));
  if (!column) return undefined;
  if (!header.includes('file')) throw new ConfigError(table, `has a patient column "${column}" but no "file" column naming each image`);
  const byFile = new Map<string, string>();
  for (const [i, r] of rows.entries()) {
    if (!r[column]) throw new ConfigError(table, `row ${i + 2}: "${column}" is empty for ${r.file}`);
    byFile.set(resolve(dirname(table), r.file), r[column]);
  }
  const ids = sources.map((src) => {
    const id = byFile.get(resolve(src));
    if (id === undefined) throw new ConfigError(table, `lists no patient for ${relative(dirname(table), resolve(src))} (every image needs its "${column}")`);
    return id;
  });
  return { table, column, ids };
}
