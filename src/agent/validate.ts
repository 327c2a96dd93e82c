/**
 * Checks request bodies the agent receives. Bad input is rejected whole with the JSON path of
 * the first problem; nothing is half-applied.
 */
import type { HandlerName } from '../model/types.js';
import type { HealthProbe, InstanceFiles, JobAnswer, JobRequest, StepName, StepRequest } from './protocol.js';

export const STEP_NAMES = ['install', 'configure', 'start', 'stop', 'update', 'operation'] as const satisfies readonly StepName[];
/** Operation names (the spec's name pattern). */
const OPERATION_RE = /^[a-z][a-z0-9-]{0,39}$/;

const INSTANCE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DAY_MS = 86_400_000;

/** Thrown for invalid input; `path` is where in the body it was found. */
export class InvalidInput extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Instance names become directory names: letters, digits, `.`, `_`, `-`, not starting with a dot. */
export function checkInstanceName(v: unknown, path = 'instance'): string {
  if (typeof v !== 'string' || !INSTANCE_RE.test(v)) {
    throw new InvalidInput(path, 'must be 1–128 characters of letters, digits, ".", "_" or "-", not starting with "." or "-"');
  }
  return v;
}

export function checkStepName(v: unknown, path = 'step'): StepName {
  if (typeof v !== 'string' || !(STEP_NAMES as readonly string[]).includes(v)) {
    throw new InvalidInput(path, `must be one of ${STEP_NAMES.join(', ')}`);
  }
  return v as StepName;
}

function checkMs(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > DAY_MS) {
    throw new InvalidInput(path, `must be a number of milliseconds between ${min} and ${DAY_MS}`);
  }
  return Math.floor(v);
}

function checkEnv(v: unknown, path: string): Record<string, string> {
  if (!isRecord(v)) throw new InvalidInput(path, 'must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_NAME_RE.test(k)) throw new InvalidInput(`${path}.${k}`, 'is not a valid variable name');
    if (typeof val !== 'string' || val.includes('\0')) throw new InvalidInput(`${path}.${k}`, 'must be a string without NUL');
    out[k] = val;
  }
  return out;
}

/** A relative path that stays inside the instance directory. */
function checkRelativePath(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '' || v.includes('\0') || v.startsWith('/')) {
    throw new InvalidInput(path, 'must be a non-empty relative path');
  }
  const parts = v.split('/');
  if (parts.some((p) => p === '..' || p === '')) throw new InvalidInput(path, 'must not contain "..", "//" or a trailing "/"');
  return v;
}

function checkFiles(v: unknown, path: string): InstanceFiles[] {
  if (!Array.isArray(v)) throw new InvalidInput(path, 'must be an array');
  return v.map((f: unknown, i) => {
    const p = `${path}[${i}]`;
    if (!isRecord(f)) throw new InvalidInput(p, 'must be an object');
    const rel = checkRelativePath(f['path'], `${p}.path`);
    const b64 = f['base64'];
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/=\s]*$/.test(b64)) throw new InvalidInput(`${p}.base64`, 'must be base64 text');
    const file: InstanceFiles = { path: rel, base64: b64 };
    const mode = f['mode'];
    if (mode !== undefined) {
      if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
        throw new InvalidInput(`${p}.mode`, 'must be an integer file mode');
      }
      file.mode = mode;
    }
    return file;
  });
}

export function checkHealth(v: unknown, path = 'health'): HealthProbe {
  if (!isRecord(v)) throw new InvalidInput(path, 'must be an object');
  const kind = v['kind'];
  if (kind !== 'command' && kind !== 'tcp' && kind !== 'http') throw new InvalidInput(`${path}.kind`, 'must be command, tcp or http');
  const probe: HealthProbe = {
    kind,
    intervalMs: checkMs(v['intervalMs'], `${path}.intervalMs`, 10),
    timeoutMs: checkMs(v['timeoutMs'], `${path}.timeoutMs`, 1),
    retries: 0,
  };
  const retries = v['retries'];
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 1000) {
    throw new InvalidInput(`${path}.retries`, 'must be an integer from 0 to 1000');
  }
  probe.retries = retries;
  if (kind === 'command') {
    if (typeof v['command'] !== 'string' || v['command'] === '') throw new InvalidInput(`${path}.command`, 'is required for a command probe');
    probe.command = v['command'];
  } else {
    const port = v['port'];
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidInput(`${path}.port`, 'must be a port number for a tcp or http probe');
    }
    probe.port = port;
    if (v['host'] !== undefined) {
      if (typeof v['host'] !== 'string' || !/^[A-Za-z0-9.:-]{1,253}$/.test(v['host'])) throw new InvalidInput(`${path}.host`, 'must be a host name or address');
      probe.host = v['host'];
    }
  }
  if (v['path'] !== undefined) {
    if (typeof v['path'] !== 'string' || !v['path'].startsWith('/')) throw new InvalidInput(`${path}.path`, 'must start with "/"');
    probe.path = v['path'];
  }
  return probe;
}

/** Validates a StepRequest body. */
export function checkStepRequest(v: unknown): StepRequest {
  if (!isRecord(v)) throw new InvalidInput('$', 'must be a JSON object');
  const runId = v['runId'];
  if (typeof runId !== 'string' || runId === '' || runId.length > 256) throw new InvalidInput('runId', 'must be a string of 1–256 characters');
  const req: StepRequest = {
    runId,
    instance: checkInstanceName(v['instance']),
    step: checkStepName(v['step']),
    timeoutMs: checkMs(v['timeoutMs'], 'timeoutMs', 1),
    env: v['env'] === undefined ? {} : checkEnv(v['env'], 'env'),
    wiring: v['wiring'],
  };
  const command = v['command'];
  if (command !== undefined && command !== null) {
    if (typeof command !== 'string' || command.includes('\0')) throw new InvalidInput('command', 'must be a string');
    if (command.trim() !== '') req.command = command;
  }
  if (req.step === 'operation') {
    if (typeof v['operation'] !== 'string' || !OPERATION_RE.test(v['operation'])) throw new InvalidInput('operation', 'must be an operation name for step operation');
    req.operation = v['operation'];
  }
  if (v['files'] !== undefined) req.files = checkFiles(v['files'], 'files');
  if (v['health'] !== undefined && v['health'] !== null) req.health = checkHealth(v['health']);
  return req;
}

// --- workflow jobs ---------------------------------------------------------------------------

const JOB_ID_RE = /^[A-Za-z0-9._:/@-]{1,200}$/;
const WORKFLOW_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TASK_SEGMENT_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Most bytes of a job script. */
export const MAX_JOB_SCRIPT = 4 * 1024 * 1024;

export function checkJobId(v: unknown, path = 'jobId'): string {
  if (typeof v !== 'string' || !JOB_ID_RE.test(v)) throw new InvalidInput(path, 'must be 1–200 characters of letters, digits and "._:/@-"');
  return v;
}

export function checkWorkflowName(v: unknown, path = 'workflow'): string {
  if (typeof v !== 'string' || !WORKFLOW_RE.test(v)) throw new InvalidInput(path, 'must be a workflow name: letters, digits, "_", "." or "-", at most 128');
  return v;
}

/** An absolute task path `/suite/family/task`: it names files under the agent's job directory. */
export function checkTaskPath(v: unknown, path = 'path'): string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.length > 1024) throw new InvalidInput(path, 'must be an absolute task path such as /suite/family/task');
  const parts = v.slice(1).split('/');
  if (parts.some((p) => !TASK_SEGMENT_RE.test(p))) throw new InvalidInput(path, 'each part must be a node name (letters, digits, "_", "." or "-", not starting with "." or "-")');
  return v;
}

export function checkTryNo(v: unknown, path = 'tryNo'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000) throw new InvalidInput(path, 'must be an integer from 1');
  return v;
}

/** Validates a JobRequest body. */
export function checkJobRequest(v: unknown): JobRequest {
  if (!isRecord(v)) throw new InvalidInput('$', 'must be a JSON object');
  const script = v['script'];
  if (typeof script !== 'string' || script.includes('\0')) throw new InvalidInput('script', 'must be the job script text');
  if (Buffer.byteLength(script) > MAX_JOB_SCRIPT) throw new InvalidInput('script', `must be at most ${MAX_JOB_SCRIPT} bytes`);
  const req: JobRequest = {
    jobId: checkJobId(v['jobId']),
    workflow: checkWorkflowName(v['workflow']),
    path: checkTaskPath(v['path']),
    tryNo: checkTryNo(v['tryNo']),
    script,
    env: v['env'] === undefined ? {} : checkEnv(v['env'], 'env'),
  };
  if (v['timeoutMs'] !== undefined && v['timeoutMs'] !== null) req.timeoutMs = checkMs(v['timeoutMs'], 'timeoutMs', 1);
  return req;
}

/** Validates the body of POST /v1/jobs/answers: `{ answers: [{ seq, ok, why?, value? }] }`. */
export function checkJobAnswers(v: unknown): JobAnswer[] {
  if (!isRecord(v) || !Array.isArray(v['answers'])) throw new InvalidInput('answers', 'must be an array');
  const list = v['answers'] as unknown[];
  if (list.length > 10_000) throw new InvalidInput('answers', 'must have at most 10000 entries');
  return list.map((a, i) => {
    const p = `answers[${i}]`;
    if (!isRecord(a)) throw new InvalidInput(p, 'must be an object');
    const seq = a['seq'];
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1) throw new InvalidInput(`${p}.seq`, 'must be a positive integer');
    if (typeof a['ok'] !== 'boolean') throw new InvalidInput(`${p}.ok`, 'must be true or false');
    const out: JobAnswer = { seq, ok: a['ok'] };
    if (a['why'] !== undefined) {
      if (typeof a['why'] !== 'string') throw new InvalidInput(`${p}.why`, 'must be a string');
      out.why = a['why'].slice(0, 2000);
    }
    if (a['value'] !== undefined) {
      if (typeof a['value'] !== 'string') throw new InvalidInput(`${p}.value`, 'must be a string');
      out.value = a['value'].slice(0, 2000);
    }
    return out;
  });
}

/** A non-negative integer query parameter (a feed cursor). */
export function checkSeq(v: string | null, path: string): number {
  if (v === null || v === '') return 0;
  if (!/^[0-9]{1,15}$/.test(v)) throw new InvalidInput(path, 'must be a non-negative integer');
  return Number(v);
}
