/**
 * The arguments of a child command, as ecflow_client takes them: `--init=RID [--add N=V …]`,
 * `--complete [--remove N …]`, `--abort[=REASON]`, `--event=N [set|clear]`, `--meter=N V`,
 * `--label=N text…`, `--wait=EXPR`, `--queue=N ACTION [STEP] [PATH]`; each verb also as `--verb VALUE`. Shared by the agent (what
 * the shim sends) and the `nubis child` command. A refusal's `why` says what is wrong.
 */
import type { JobChildCommand } from './protocol.js';

export type ParsedChild = { ok: true; command: JobChildCommand } | { ok: false; why: string };

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.]{0,127}$/;
const VERBS = ['init', 'complete', 'abort', 'event', 'meter', 'label', 'wait', 'queue'] as const;
const QUEUE_ACTIONS = ['active', 'complete', 'aborted', 'no_of_aborted', 'reset'] as const;
const MAX_TEXT = 4000;

function fail(why: string): ParsedChild {
  return { ok: false, why };
}

/** Parses `args` (one argv, without `child`). */
export function parseChildArgs(args: readonly string[]): ParsedChild {
  const first = args[0] ?? '';
  const m = /^--([a-z]+)(?:=([\s\S]*))?$/.exec(first);
  if (!m || !(VERBS as readonly string[]).includes(m[1]!)) {
    return fail(`expected one of ${VERBS.map((v) => `--${v}`).join(', ')} first, found ${JSON.stringify(first.slice(0, 60))}`);
  }
  const verb = m[1] as (typeof VERBS)[number];
  const rest = args.slice(1);
  // the verb's value: after `=`, else the next argument (when the verb takes one)
  let value = m[2];
  const takeValue = (): string | undefined => {
    if (value !== undefined) return value;
    const next = rest[0];
    if (next === undefined || next.startsWith('--')) return undefined;
    rest.shift();
    return next;
  };
  const noFlags = (what: string): ParsedChild | undefined => {
    const bad = rest.find((a) => a.startsWith('--'));
    return bad === undefined ? undefined : fail(`${what}: unexpected ${JSON.stringify(bad.slice(0, 60))}`);
  };
  const name = (v: string | undefined): string | undefined => (v !== undefined && NAME_RE.test(v) ? v : undefined);

  switch (verb) {
    case 'init': {
      const rid = takeValue();
      if (rid === undefined || rid === '' || rid.length > 128) return fail('--init needs the remote id (the job\'s pid): --init=$$');
      if (rest.length === 0) return { ok: true, command: { verb, rid } };
      if (rest[0] !== '--add') return fail(`--init: unexpected ${JSON.stringify(rest[0]!.slice(0, 60))}; variables are added with --add NAME=VALUE`);
      const add: Record<string, string> = {};
      for (const kv of rest.slice(1)) {
        const eq = kv.indexOf('=');
        const n = eq > 0 ? name(kv.slice(0, eq)) : undefined;
        if (n === undefined) return fail(`--init --add: expected NAME=VALUE, found ${JSON.stringify(kv.slice(0, 60))}`);
        add[n] = kv.slice(eq + 1);
      }
      return { ok: true, command: { verb, rid, add } };
    }
    case 'complete': {
      if (value !== undefined && value !== '') return fail('--complete takes no value');
      if (rest.length === 0) return { ok: true, command: { verb } };
      if (rest[0] !== '--remove') return fail(`--complete: unexpected ${JSON.stringify(rest[0]!.slice(0, 60))}; variables are removed with --remove NAME`);
      const remove: string[] = [];
      for (const r of rest.slice(1)) {
        const n = name(r);
        if (n === undefined) return fail(`--complete --remove: ${JSON.stringify(r.slice(0, 60))} is not a variable name`);
        remove.push(n);
      }
      return { ok: true, command: { verb, remove } };
    }
    case 'abort': {
      const bad = noFlags('--abort');
      if (bad) return bad;
      const reason = [value ?? '', ...rest].filter((s) => s !== '').join(' ').slice(0, MAX_TEXT);
      return { ok: true, command: { verb, reason } };
    }
    case 'event': {
      const n = name(takeValue());
      if (n === undefined) return fail('--event needs an event name: --event=NAME [set|clear]');
      const bad = noFlags('--event');
      if (bad) return bad;
      if (rest.length > 1 || (rest.length === 1 && rest[0] !== 'set' && rest[0] !== 'clear')) {
        return fail(`--event=${n}: expected set or clear, found ${JSON.stringify(rest.join(' ').slice(0, 60))}`);
      }
      return { ok: true, command: { verb, name: n, value: rest[0] !== 'clear' } };
    }
    case 'meter': {
      const n = name(takeValue());
      if (n === undefined) return fail('--meter needs a meter name and a value: --meter=NAME VALUE');
      const v = rest.length === 1 ? rest[0]! : '';
      if (!/^-?[0-9]{1,15}$/.test(v)) return fail(`--meter=${n}: expected one integer value, found ${JSON.stringify(rest.join(' ').slice(0, 60))}`);
      return { ok: true, command: { verb, name: n, value: Number(v) } };
    }
    case 'label': {
      const n = name(takeValue());
      if (n === undefined) return fail('--label needs a label name: --label=NAME text…');
      return { ok: true, command: { verb, name: n, value: rest.join(' ').slice(0, MAX_TEXT) } };
    }
    case 'queue': {
      const n = name(takeValue());
      if (n === undefined) return fail('--queue needs a queue name and an action: --queue=NAME active|complete STEP|aborted STEP|no_of_aborted|reset [PATH]');
      const bad = noFlags('--queue');
      if (bad) return bad;
      const [action = '', ...more] = rest;
      if (!(QUEUE_ACTIONS as readonly string[]).includes(action)) return fail(`--queue=${n}: expected active, complete STEP, aborted STEP, no_of_aborted or reset, found ${JSON.stringify(action.slice(0, 60))}`);
      const a = action as (typeof QUEUE_ACTIONS)[number];
      const needsStep = a === 'complete' || a === 'aborted';
      if (needsStep && more.length === 0) return fail(`--queue=${n} ${a}: give the step`);
      const step = needsStep ? more.shift() : undefined;
      if (more.length > 1) return fail(`--queue=${n} ${a}: unexpected ${JSON.stringify(more[1]!.slice(0, 60))}`);
      return { ok: true, command: { verb, name: n, action: a, ...(step === undefined ? {} : { step }), ...(more[0] === undefined ? {} : { path: more[0] }) } };
    }
    case 'wait': {
      const expression = [value ?? '', ...rest].filter((s) => s !== '').join(' ');
      if (expression.trim() === '') return fail('--wait needs an expression: --wait="/s/f/t == complete"');
      if (expression.length > MAX_TEXT) return fail(`--wait: the expression is longer than ${MAX_TEXT} characters`);
      return { ok: true, command: { verb, expression } };
    }
  }
}

/** Whether the job waits for the control plane's answer to this verb (ecFlow's blocking verbs). */
export function childAwaitsAnswer(verb: JobChildCommand['verb']): boolean {
  return verb === 'init' || verb === 'complete' || verb === 'abort' || verb === 'wait' || verb === 'queue';
}
