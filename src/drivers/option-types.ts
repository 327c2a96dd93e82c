/** The types drivers declare their options with (./options.ts checks values against them). */
/** The type of one option value; `doc` says what it does and its default (the JSON Schema's description). */
export type OptionType = (
  | { type: 'string'; enum?: readonly string[]; pattern?: RegExp; expected?: string }
  | { type: 'number'; integer?: boolean; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'array'; items: OptionType }
  | { type: 'object'; fields?: Record<string, OptionType>; values?: OptionType; required?: readonly string[] }
  /** A value only a program can pass (a function, an in-process object); any type. */
  | { type: 'any' }
) & { doc?: string };

/** A driver's options: every key it reads, which are required, and a deeper check. */
export interface DriverOptionsSchema {
  fields: Record<string, OptionType>;
  required?: readonly string[];
  /** Runs after the schema passed; throws SPEC_INVALID (its message is prefixed with the path). */
  check?: (options: Record<string, unknown>) => void;
}

/** An option type with its documentation. */
export const doc = <T extends OptionType>(t: T, text: string): T => ({ ...t, doc: text });

