// Writes generated files so a reader never sees a half-written one: each file goes to a
// temporary name in its target directory and is renamed over the target. Validation and
// generation finish before this runs, so a bad spec never gets here.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface OutputFile {
  readonly path: string;
  /** Text (UTF-8) or bytes. */
  readonly text: string | Uint8Array;
}

/** Writes all files; on any failure removes the temporaries and leaves existing targets untouched. */
export async function writeAtomically(files: readonly OutputFile[]): Promise<void> {
  const staged: Array<{ tmp: string; path: string }> = [];
  try {
    for (const [i, file] of files.entries()) {
      await mkdir(dirname(file.path), { recursive: true });
      const tmp = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.${i}.tmp`);
      staged.push({ tmp, path: file.path });
      // 0600: OOR configs and the livmap config carry the sites' shared keys.
      await writeFile(tmp, file.text, { flag: 'wx', mode: 0o600 });
    }
  } catch (err) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw err;
  }
  // Renames only start once every file is fully on disk.
  for (const s of staged) await rename(s.tmp, s.path);
}
