// Keeps a PGlite data folder private to the user running Flotilla: the folder and every folder in it
// 0700, every file 0600 (PGlite writes its files 0666, and they hold the platform's private key). Changes
// modes only, never the process umask (logs and spawned children share it); symbolic links are left alone.
import fs from 'node:fs';
import path from 'node:path';

/** What `tightenDataFolder` changed. */
export interface Tightened {
  folders: number;
  files: number;
}

const FOLDER_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * Creates `dir` (0700) when missing, then makes it and every folder under it 0700 and every file under it
 * 0600 wherever group or others had any access. The folder itself is tightened first, so nothing in it is
 * reachable by another user from then on, whatever the modes below it still are.
 */
export function tightenDataFolder(dir: string): Tightened {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true, mode: FOLDER_MODE });
  const changed: Tightened = { folders: 0, files: 0 };
  const pending = [root];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    const stat = fs.lstatSync(folder, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isDirectory()) continue;
    if ((stat.mode & 0o777) !== FOLDER_MODE) {
      fs.chmodSync(folder, FOLDER_MODE);
      changed.folders += 1;
    }
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        pending.push(full);
      } else if (entry.isFile()) {
        const mode = fs.lstatSync(full, { throwIfNoEntry: false })?.mode;
        // A file PGlite removed meanwhile is skipped; one with any group or other bit becomes 0600.
        if (mode !== undefined && (mode & 0o177) !== 0) {
          chmodIfPresent(full, FILE_MODE);
          changed.files += 1;
        }
      }
    }
  }
  return changed;
}

function chmodIfPresent(file: string, mode: number): void {
  try {
    fs.chmodSync(file, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
