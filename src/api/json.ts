/**
 * Locating JSON syntax errors. `JSON.parse` messages do not always carry a position, so when
 * parsing fails this scanner (iterative: no recursion, whatever the nesting) finds the first
 * offending character and reports it as line, column and offset.
 */

export interface JsonSyntaxProblem {
  /** Zero-based offset into the text. */
  position: number;
  line: number;
  column: number;
  message: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

function at(text: string, position: number, message: string): JsonSyntaxProblem {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { position, line, column: position - lineStart + 1, message };
}

function show(c: string | undefined): string {
  return c === undefined ? 'end of input' : JSON.stringify(c);
}

/** Returns the first syntax problem in `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxProblem | undefined {
  const stack: ('{' | '[')[] = [];
  let state: 'value' | 'key' | 'after' = 'value';
  let first = false;
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const match = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  for (;;) {
    ws();
    const c = text[i];
    if (state === 'after' && stack.length === 0) {
      return c === undefined ? undefined : at(text, i, `unexpected ${show(c)} after the JSON value`);
    }
    if (c === undefined) return at(text, i, 'unexpected end of input');
    if (state === 'value') {
      const top = stack[stack.length - 1];
      if (first && top === '[' && c === ']') {
        stack.pop();
        i++;
        state = 'after';
        first = false;
        continue;
      }
      first = false;
      if (c === '{') {
        stack.push('{');
        i++;
        state = 'key';
        first = true;
      } else if (c === '[') {
        stack.push('[');
        i++;
        first = true;
      } else if (c === '"') {
        if (!match(STRING)) return at(text, i, 'unterminated or invalid string');
        state = 'after';
      } else if (c === '-' || (c >= '0' && c <= '9')) {
        if (!match(NUMBER)) return at(text, i, 'invalid number');
        state = 'after';
      } else if (text.startsWith('true', i) || text.startsWith('null', i)) {
        i += 4;
        state = 'after';
      } else if (text.startsWith('false', i)) {
        i += 5;
        state = 'after';
      } else {
        return at(text, i, `unexpected ${show(c)}, expected a value`);
      }
    } else if (state === 'key') {
      if (first && c === '}') {
        stack.pop();
        i++;
        state = 'after';
        first = false;
        continue;
      }
      first = false;
      if (c !== '"') return at(text, i, `unexpected ${show(c)}, expected a property name in double quotes`);
      if (!match(STRING)) return at(text, i, 'unterminated or invalid string');
      ws();
      if (text[i] !== ':') return at(text, i, `unexpected ${show(text[i])}, expected ":"`);
      i++;
      state = 'value';
    } else {
      const top = stack[stack.length - 1]!;
      const close = top === '{' ? '}' : ']';
      if (c === ',') {
        i++;
        state = top === '{' ? 'key' : 'value';
      } else if (c === close) {
        stack.pop();
        i++;
      } else {
        return at(text, i, `unexpected ${show(c)}, expected "," or "${close}"`);
      }
    }
  }
}
