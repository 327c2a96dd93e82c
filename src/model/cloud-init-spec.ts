/**
 * A node template's `cloudInit` as the spec parser checks it: the text (inline, or the file
 * sent with the spec), its cloud-config problems placed where the person wrote them — the
 * spec's own line and column for an inline block (`cloudInit: |`), the file's for
 * `cloudInit: { file: init.yaml }` — and the platform's user-data size limit.
 */
import type { LineCounter, Node } from 'yaml';
import { isMap, isScalar } from 'yaml';
import { checkCloudConfig, NUBIS_PART_RESERVE_BYTES, USER_DATA_LIMITS, userDataFits, type CloudConfigProblem, type UserDataPlatform } from './cloud-init.js';
import type { SpecProblem } from './types.js';

export interface TemplateCloudInit {
  text: string;
  file?: string;
}

export interface TemplateCloudInitInput {
  /** The value as parsed: a string or `{ file }`. */
  value: unknown;
  /** The template's cloud's platform, when it names one. */
  platform: string | undefined;
  jsonPath: string;
  /** The YAML node of the value, for positions. */
  node: Node | undefined;
  lc: LineCounter;
  /** The spec's file name and text. */
  file: string;
  source: string;
  fileText: ((path: string) => string | undefined) | undefined;
}

const IMAGE_PLATFORMS = Object.keys(USER_DATA_LIMITS) as UserDataPlatform[];

function problem(file: string, line: number, col: number, path: string, expected: string, found: string): SpecProblem {
  return { file, line, col, path, expected, found, message: `${file}:${line}:${col}: ${path}: expected ${expected}, found ${found}` };
}

/** Where content line `k` (1-based) of a block scalar starting at `offset` is in the spec: its header is on the line before. */
function blockPosition(lc: LineCounter, source: string, offset: number, p: CloudConfigProblem): { line: number; col: number } {
  const header = lc.linePos(offset).line;
  const lines = source.split('\n');
  const first = lines.slice(header).find((l) => l.trim() !== '') ?? '';
  const indent = first.length - first.trimStart().length;
  return { line: header + p.line, col: indent + p.col };
}

/** Checks one template's cloudInit; returns its text when it is usable. */
export function checkTemplateCloudInit(i: TemplateCloudInitInput): { problems: SpecProblem[]; value?: TemplateCloudInit } {
  const problems: SpecProblem[] = [];
  const start = i.lc.linePos(i.node?.range?.[0] ?? 0);
  const here = (expected: string, found: string): void => {
    problems.push(problem(i.file, start.line, start.col, i.jsonPath, expected, found));
  };
  if (i.platform !== undefined && !(IMAGE_PLATFORMS as string[]).includes(i.platform)) {
    here(`cloudInit only on a cloud that boots images (${IMAGE_PLATFORMS.join(', ')})`, `a node template on a ${i.platform} cloud`);
    return { problems };
  }
  let text: string;
  let fromFile: string | undefined;
  if (typeof i.value === 'string') text = i.value;
  else {
    const file = typeof (i.value as { file?: unknown } | null)?.file === 'string' ? (i.value as { file: string }).file : undefined;
    if (file === undefined) return { problems }; // the schema walk reported it
    const t = i.fileText?.(file);
    if (t === undefined) {
      const at = isMap(i.node) ? i.node.get('file', true) : undefined;
      const pos = i.lc.linePos((at as Node | undefined)?.range?.[0] ?? i.node?.range?.[0] ?? 0);
      problems.push(problem(i.file, pos.line, pos.col, `${i.jsonPath}.file`, 'a cloud-config file sent with the spec (the CLI sends it when it sits beside the spec)', `no file ${JSON.stringify(file)}`));
      return { problems };
    }
    text = t;
    fromFile = file;
  }
  for (const p of checkCloudConfig(text)) {
    const inner = p.path ? `${p.path}: ` : '';
    if (fromFile !== undefined) problems.push(problem(fromFile, p.line, p.col, `${i.jsonPath}.file`, `${inner}${p.expected}`, p.found));
    else if (isScalar(i.node) && (i.node.type === 'BLOCK_LITERAL' || i.node.type === 'BLOCK_FOLDED')) {
      const pos = blockPosition(i.lc, i.source, i.node.range?.[0] ?? 0, p);
      problems.push(problem(i.file, pos.line, pos.col, i.jsonPath, `${inner}${p.expected}`, p.found));
    } else here(`${inner}${p.expected} (at line ${p.line}, column ${p.col} of the cloud-config)`, p.found);
  }
  // the tightest limit applies when selection may choose any of the platforms
  const platforms = i.platform !== undefined ? [i.platform as UserDataPlatform] : IMAGE_PLATFORMS;
  const raw = Buffer.byteLength(text, 'utf8') + NUBIS_PART_RESERVE_BYTES;
  for (const pf of platforms) {
    const fit = userDataFits(pf, raw);
    if (!fit.ok) {
      here(`a cloud-config that fits ${pf}'s user-data limit beside the Nubis part (${NUBIS_PART_RESERVE_BYTES} bytes kept for it)`, fit.message);
      break;
    }
  }
  return { problems, ...(problems.length === 0 ? { value: { text, ...(fromFile !== undefined ? { file: fromFile } : {}) } } : {}) };
}
