/**
 * Label matchers with PromQL semantics: `=`, `!=`, `=~`, `!~`; regular expressions are
 * anchored at both ends (`=~"a.*"` is `^(?:a.*)$`); a label a series does not carry counts
 * as the empty string, so `{zone=""}` selects series without `zone`.
 */
import { NubisError } from '../../errors/index.js';
import type { Labels, LabelMatcher } from '../types.js';

/** A matcher prepared for repeated tests. */
export interface CompiledMatcher {
  readonly name: string;
  readonly op: LabelMatcher['op'];
  readonly value: string;
  test(labelValue: string): boolean;
}

/**
 * Compiles one matcher. Fails with REQUEST_INVALID when a regular expression does not
 * compile (the message names the label and the pattern).
 */
export function compileMatcher(m: LabelMatcher): CompiledMatcher {
  switch (m.op) {
    case '=':
      return { ...m, test: (v) => v === m.value };
    case '!=':
      return { ...m, test: (v) => v !== m.value };
    case '=~':
    case '!~': {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${m.value})$`, 'su');
      } catch (e) {
        throw new NubisError('REQUEST_INVALID', `label matcher ${m.name}${m.op}"${m.value}": invalid regular expression: ${(e as Error).message}`);
      }
      const want = m.op === '=~';
      return { ...m, test: (v) => re.test(v) === want };
    }
    default:
      throw new NubisError('REQUEST_INVALID', `unknown label match operator ${JSON.stringify((m as LabelMatcher).op)}`);
  }
}

/** True when the series' labels (including `__name__`) satisfy every matcher. */
export function matchesAll(labels: Labels, matchers: readonly CompiledMatcher[]): boolean {
  for (const m of matchers) if (!m.test(labels[m.name] ?? '')) return false;
  return true;
}

/** True when the matcher also accepts a missing label (PromQL forbids selectors made only of these). */
export function matchesEmpty(m: LabelMatcher): boolean {
  return compileMatcher(m).test('');
}

/** A canonical string for a label set: `name{a="1",b="2"}` with labels sorted by name. */
export function seriesKey(name: string, labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return name;
  if (keys.length > 1) keys.sort();
  let s = name + '{';
  let first = true;
  for (const k of keys) {
    if (k === '__name__') continue;
    s += (first ? '' : ',') + k + '=' + JSON.stringify(labels[k]);
    first = false;
  }
  return s + '}';
}
