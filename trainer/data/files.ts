// File access shared by the readers: every failure is a ReadError naming the file.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { describeLimit, MAX_FILE_BYTES } from './limits.ts';
import { errorText, ReadError } from './types.ts';

/**
 * The bytes of a regular file of at most MAX_FILE_BYTES. A FIFO, a device
 * (/dev/zero) or a folder is refused before reading, so nothing can hang or
 * grow without end; the size is checked on the open handle.
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  let fh;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise block before fstat can refuse it.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ReadError(path, `cannot read file: ${errorText(err)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ReadError(path, `not a regular file (${st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : 'a device or socket'}); give image files or folders of them`);
    if (st.size > MAX_FILE_BYTES) throw new ReadError(path, `${st.size} bytes is over the reader limit of ${describeLimit.bytes(MAX_FILE_BYTES)} (MAX_FILE_BYTES)`);
    return await fh.readFile();
  } catch (err) {
    throw err instanceof ReadError ? err : new ReadError(path, `cannot read file: ${errorText(err)}`);
  } finally {
    await fh.close();
  }
}
