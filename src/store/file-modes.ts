/**
 * File modes of a data directory: the directory 0700, the database and its WAL and shared-memory
 * files, the token and key files 0600. A file or directory found with a looser mode (made by
 * an older Nubis, a restore, a umask) is tightened, never loosened. Failing to set a mode fails
 * the start: running with the database readable by other users is not an option.
 */
import fs from 'node:fs';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/** Creates the directory (and parents) if needed and makes it 0700. */
export function secureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if ((fs.statSync(dir).mode & 0o777) !== DIR_MODE) fs.chmodSync(dir, DIR_MODE);
}

/** Makes each of these files that exists 0600 (or stricter). */
export function secureFiles(files: readonly string[]): void {
  for (const f of files) {
    let mode: number;
    try {
      mode = fs.statSync(f).mode;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    if ((mode & 0o077) !== 0) fs.chmodSync(f, mode & FILE_MODE);
  }
}

/** The SQLite database file and the files SQLite keeps beside it in WAL mode. */
export function databaseFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/** Creates an empty file with mode 0600 unless it exists, so SQLite opens it instead of creating one under the umask. */
export function createPrivateFile(file: string): void {
  fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_WRONLY, FILE_MODE));
}
