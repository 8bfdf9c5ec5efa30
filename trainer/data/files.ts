// File access shared by the readers: every failure is a ReadError naming the file.
import { readFile } from 'node:fs/promises';
import { errorText, ReadError } from './types.ts';

export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ReadError(path, `cannot read file: ${errorText(err)}`);
  }
}
