// Files under a folder, recursively (links followed, like torchvision's
// os.walk with followlinks), with one of the given extensions, sorted by name
// at each level: how image folders and segmentation folders list their files.
import { readdir, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';

/** Code-point order (not locale order), so a listing is the same on every machine. */
export const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Paths (dir joined) of the files under dir whose extension (lower-cased) is in exts; `skipHidden` leaves out names starting with '.'. */
export async function filesUnder(dir: string, exts: readonly string[], opts: { skipHidden?: boolean } = {}, out: string[] = []): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => byName(a.name, b.name));
  for (const e of entries) {
    if (opts.skipHidden && e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    let isDirectory = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const s = await stat(p);
        isDirectory = s.isDirectory();
        isFile = s.isFile();
      } catch {
        continue; // a dangling link
      }
    }
    if (isDirectory) await filesUnder(p, exts, opts, out);
    else if (isFile && exts.includes(extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}
