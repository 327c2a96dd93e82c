/** Runs one benchmark child in its own process (so peak RSS is its own) and parses its last JSON line. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export function child<T>(file: string, args: string[]): T {
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', path.join(here, file), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  const line = out.trim().split('\n').pop()!;
  return JSON.parse(line) as T;
}
