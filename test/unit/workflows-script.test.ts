/**
 * Script lookup and preprocessing (issue 9, item 6): ecFlow's search order by task name, the
 * %include forms, %nopp/%manual/%comment, %VAR%, %VAR:default%, %%, and failures that name the
 * variable and file:line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NubisError } from '../../src/errors/index.js';
import { filesFromRecord, locateScript, normalizePath, preprocess, scriptCandidates } from '../../src/workflows/index.js';
import { ROOT } from '../helpers/processes.js';

const FIX = path.join(ROOT, 'test/fixtures/workflows');

/** The fixture tree mapped to the paths a server would store: include/ → /inc, files/ → /home/files. */
function fixtureFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, virt: string): void => {
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (fs.statSync(p).isDirectory()) walk(p, `${virt}/${f}`);
      else out[`${virt}/${f}`] = fs.readFileSync(p, 'utf8');
    }
  };
  walk(path.join(FIX, 'include'), '/inc');
  walk(path.join(FIX, 'files'), '/home/files');
  return out;
}

const VARS = {
  ECF_HOME: '/home', ECF_FILES: '/home/files', ECF_INCLUDE: '/nowhere:/inc',
  ECF_NAME: '/fmi_pp/cycle/process/chunks/chunk_001', ECF_PASS: 'pw123', ECF_TRYNO: '1',
  TASK: 'chunk_001', STEP: '6', YMD: '20261203', HH: '06',
};

function jobFails(fn: () => unknown, message: string | RegExp): void {
  let got: unknown;
  assert.throws(() => { got = fn(); }, (e: unknown) => {
    assert.ok(e instanceof NubisError, String(e));
    assert.equal(e.code, 'JOB_CREATION_FAILED');
    if (typeof message === 'string') assert.equal(e.message, message); else assert.match(e.message, message);
    return true;
  });
  assert.equal(got, undefined);
}

test('script candidates: ECF_SCRIPT, then ECF_FILES and ECF_HOME searched backwards by task name', () => {
  assert.deepEqual(scriptCandidates('/s/f/g/t', { ECF_HOME: '/h', ECF_FILES: '/files/' }), [
    '/h/s/f/g/t.ecf',
    '/files/s/f/g/t.ecf', '/files/f/g/t.ecf', '/files/g/t.ecf', '/files/t.ecf',
    '/h/f/g/t.ecf', '/h/g/t.ecf', '/h/t.ecf',
  ]);
  assert.deepEqual(scriptCandidates('/s/t', { ECF_HOME: '/h', ECF_SCRIPT: '/x/y.sh', ECF_EXTN: '.sh' }), ['/x/y.sh', '/h/s/t.sh', '/h/t.sh']);
  assert.deepEqual(scriptCandidates('/s/t', {}), []);
  const files = filesFromRecord({ '/files/g/t.ecf': 'g', '/h/t.ecf': 'home' });
  assert.deepEqual(locateScript('/s/f/g/t', { ECF_HOME: '/h', ECF_FILES: '/files' }, files), { path: '/files/g/t.ecf', text: 'g' });
  assert.deepEqual(locateScript('/s/f/other/t', { ECF_HOME: '/h', ECF_FILES: '/files' }, files), { path: '/h/t.ecf', text: 'home' });
  jobFails(() => locateScript('/s/u', { ECF_HOME: '/h' }, files), '/s/u: no script found; tried /h/s/u.ecf, /h/u.ecf');
  jobFails(() => locateScript('/s/u', {}, files), '/s/u: no script: none of ECF_SCRIPT, ECF_FILES, ECF_HOME is set');
  assert.equal(normalizePath('/a//b/./c/../d'), '/a/b/d');
});

test('the FMI chunk script: head.h and tail.h from ECF_INCLUDE, a relative include, comments stripped, variables and defaults', () => {
  const files = filesFromRecord(fixtureFiles());
  const task = '/fmi_pp/cycle/process/chunks/chunk_001';
  const script = locateScript(task, VARS, files);
  assert.equal(script.path, '/home/files/chunks/chunk_001.ecf');
  const read: string[] = [];
  const job = preprocess(script.text, VARS, { file: script.path, files, taskPath: task, onRead: (p) => read.push(p) });
  assert.deepEqual(read, ['/inc/head.h', '/home/files/cycle/process.h', '/inc/tail.h']);
  const lines = job.split('\n');
  assert.equal(lines[0], '#!/bin/bash');
  assert.ok(lines.includes('export ECF_NAME=/fmi_pp/cycle/process/chunks/chunk_001'));
  assert.ok(lines.includes('export ECF_PASS=pw123'));
  assert.ok(lines.includes('export NUBIS_WORKFLOW='), 'an empty default');
  assert.ok(lines.includes('# Anything between nopp and end is copied as written: 100% of it, %no% substitution here.'));
  assert.ok(lines.includes('nubis child --init=$$'));
  assert.ok(lines.includes('CHUNK_DIR=/home/data/20261203/06'));
  assert.ok(lines.includes('echo "chunk chunk_001 step 6 of 48 into $CHUNK_DIR (100% done)"'));
  assert.ok(lines.includes('nubis child --meter=progress 6'));
  assert.ok(lines.includes('nubis child --complete'));
  assert.ok(!job.includes('%manual') && !job.includes('Included at the top') && !job.includes('One chunk of'), 'manual and comment removed');
  assert.ok(!/%(nopp|end|include)/.test(job));
  assert.ok(job.endsWith('exit 0\n'));
});

test('%include "f" is ECF_HOME/SUITE/FAMILY/f; <f> falls back to ECF_HOME; /abs; includeonce; includenopp is verbatim', () => {
  const files = filesFromRecord({
    '/h/s/f1/f2/local.h': 'local %A%',
    '/h/common.h': 'common',
    '/abs/x.h': 'abs',
    '/h/raw.h': 'raw %UNDEFINED% 50%',
  });
  const job = preprocess([
    '%include "local.h"', '%include <common.h>', '%includeonce /abs/x.h', '%includeonce /abs/x.h', '%includenopp <raw.h>', 'end %A%',
  ].join('\n'), { ECF_HOME: '/h', A: '1' }, { file: '/h/s/f1/f2/t.ecf', files, taskPath: '/s/f1/f2/t' });
  assert.equal(job, 'local 1\ncommon\nabs\nraw %UNDEFINED% 50%\nend 1\n');
  // without a task path, SUITE and FAMILY come from the variables
  assert.equal(preprocess('%include "local.h"\n', { ECF_HOME: '/h', A: '2', SUITE: 's', FAMILY: 'f1/f2' }, { file: '/x.ecf', files }), 'local 2\n');
});

test('variables: values are substituted in turn, %% is a literal, %ecfmicro changes the character', () => {
  const files = filesFromRecord({});
  assert.equal(preprocess('a %X% b %% c %Y:dflt% %Z:%.\n', { X: '<%W%>', W: 'w' }, { file: '/t.ecf', files }), 'a <w> b % c dflt .\n');
  assert.equal(preprocess('%ecfmicro @\nx @A@ 100%\n', { A: 'a' }, { file: '/t.ecf', files }), 'x a 100%\n');
  assert.equal(preprocess('keep %UNSET% here\n', {}, { file: '/t.ecf', files, undefinedVariables: 'keep' }), 'keep %UNSET% here\n');
});

test('bad input: an undefined %VAR% names the variable and file:line, also inside an include and in comments', () => {
  const files = filesFromRecord({ '/inc/h.h': 'ok\n# %MISSING_IN_HEAD%\n' });
  jobFails(() => preprocess('echo 1\necho %NOPE%\n', {}, { file: '/s/t.ecf', files }),
    "/s/t.ecf:2: undefined variable %NOPE% (define it with 'edit NOPE …' or give a default %NOPE:value%)");
  jobFails(() => preprocess('line\n%include <h.h>\n', { ECF_INCLUDE: '/inc' }, { file: '/s/t.ecf', files }),
    "/inc/h.h:2: undefined variable %MISSING_IN_HEAD% (define it with 'edit MISSING_IN_HEAD …' or give a default %MISSING_IN_HEAD:value%)");
  jobFails(() => preprocess('date +%Y\n', {}, { file: '/s/t.ecf', files }), '/s/t.ecf:1: unmatched % (write %% for a literal %)');
});

test('bad input: a missing include, an include cycle, an unclosed %manual, a variable that refers to itself', () => {
  const files = filesFromRecord({ '/i/a.h': '%include <b.h>\n', '/i/b.h': 'b\n%include <a.h>\n' });
  jobFails(() => preprocess('%include <none.h>\n', { ECF_INCLUDE: '/i:/j', ECF_HOME: '/h' }, { file: '/t.ecf', files }),
    '/t.ecf:1: %include <none.h>: not found (tried /i/none.h, /j/none.h, /h/none.h)');
  jobFails(() => preprocess('x\n%include <a.h>\n', { ECF_INCLUDE: '/i' }, { file: '/t.ecf', files }), '/i/b.h:2: include cycle: /i/a.h → /i/b.h → /i/a.h');
  jobFails(() => preprocess('%manual\ntext\n', {}, { file: '/t.ecf', files }), '/t.ecf:1: %manual without %end');
  jobFails(() => preprocess('%end\n', {}, { file: '/t.ecf', files }), '/t.ecf:1: %end without %nopp, %manual or %comment');
  jobFails(() => preprocess('%A%\n', { A: '%A%' }, { file: '/t.ecf', files }), /^\/t\.ecf:1: variable A refers to itself/);
});
