/**
 * The body of `POST /v1/workflows/{workflow}/child` (agreed with the route in
 * src/api/routes-workflows.ts): `{ path, password, tryNo, rid?, command }` where command is a
 * WfChildCommand. The route answers HTTP 200 with the WfChildResult, refusals included.
 */
import { NubisError } from '../../errors/index.js';
import type { WfChildCommand, WfChildIdentity } from '../model/runtime.js';

export interface ChildRequest {
  readonly path: string;
  readonly password: string;
  readonly tryNo: number;
  readonly rid?: string;
  readonly command: WfChildCommand;
}

export function childRequestBody(identity: Omit<WfChildIdentity, 'workflow'>, command: WfChildCommand): ChildRequest {
  return { path: identity.path, password: identity.password, tryNo: identity.tryNo, ...(identity.rid === undefined ? {} : { rid: identity.rid }), command };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (what: string): NubisError => new NubisError('REQUEST_INVALID', `child command: ${what}`);
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.]{0,127}$/;

function text(v: unknown, what: string, max = 4000): string {
  if (typeof v !== 'string' || v.length > max) throw bad(`${what} must be a string of at most ${max} characters`);
  return v;
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw bad(`${what} must be a name (letters, digits, "_", ".")`);
  return v;
}

/** Validates a request body for the route; throws REQUEST_INVALID saying what is wrong. */
export function checkChildRequest(v: unknown): ChildRequest {
  if (!isRecord(v)) throw bad('the body must be a JSON object');
  const path = text(v['path'], 'path', 1024);
  if (!path.startsWith('/')) throw bad('path must be an absolute task path (ECF_NAME)');
  const password = text(v['password'], 'password', 256);
  const tryNo = v['tryNo'];
  if (typeof tryNo !== 'number' || !Number.isInteger(tryNo) || tryNo < 0) throw bad('tryNo must be a non-negative integer (ECF_TRYNO)');
  const c = v['command'];
  if (!isRecord(c)) throw bad('command must be an object with a verb');
  let command: WfChildCommand;
  switch (c['verb']) {
    case 'init': {
      const add = c['add'];
      const rid = text(c['rid'], 'command.rid', 128);
      if (add === undefined) command = { verb: 'init', rid };
      else {
        if (!isRecord(add)) throw bad('command.add must be an object of strings');
        const out: Record<string, string> = {};
        for (const [k, val] of Object.entries(add)) out[name(k, 'a variable name')] = text(val, `command.add.${k}`);
        command = { verb: 'init', rid, add: out };
      }
      break;
    }
    case 'complete': {
      const remove = c['remove'];
      if (remove === undefined) command = { verb: 'complete' };
      else {
        if (!Array.isArray(remove)) throw bad('command.remove must be an array of names');
        command = { verb: 'complete', remove: remove.map((r) => name(r, 'command.remove[]')) };
      }
      break;
    }
    case 'abort':
      command = { verb: 'abort', reason: c['reason'] === undefined ? '' : text(c['reason'], 'command.reason') };
      break;
    case 'event':
      if (typeof c['value'] !== 'boolean') throw bad('command.value must be true (set) or false (clear)');
      command = { verb: 'event', name: name(c['name'], 'command.name'), value: c['value'] };
      break;
    case 'meter':
      if (typeof c['value'] !== 'number' || !Number.isInteger(c['value'])) throw bad('command.value must be an integer');
      command = { verb: 'meter', name: name(c['name'], 'command.name'), value: c['value'] };
      break;
    case 'label':
      command = { verb: 'label', name: name(c['name'], 'command.name'), value: text(c['value'], 'command.value') };
      break;
    case 'wait':
      command = { verb: 'wait', expression: text(c['expression'], 'command.expression') };
      if (command.expression.trim() === '') throw bad('command.expression must not be empty');
      break;
    case 'queue': {
      const action = c['action'];
      if (action !== 'active' && action !== 'complete' && action !== 'aborted' && action !== 'no_of_aborted' && action !== 'reset') {
        throw bad('command.action must be one of active, complete, aborted, no_of_aborted, reset');
      }
      const step = c['step'] === undefined ? undefined : text(c['step'], 'command.step', 1000);
      if ((action === 'complete' || action === 'aborted') && step === undefined) throw bad(`queue ${action} needs command.step`);
      const qpath = c['path'] === undefined ? undefined : text(c['path'], 'command.path', 1024);
      command = { verb: 'queue', name: name(c['name'], 'command.name'), action, ...(step !== undefined ? { step } : {}), ...(qpath !== undefined ? { path: qpath } : {}) };
      break;
    }
    default:
      throw bad('command.verb must be one of init, complete, abort, event, meter, label, wait, queue');
  }
  const rid = v['rid'];
  return { path, password, tryNo, ...(rid === undefined || rid === null ? {} : { rid: text(rid, 'rid', 128) }), command };
}
