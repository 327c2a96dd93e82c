/** script — ecFlow script lookup and preprocessing (see ./script.ts). */
export { filesFromRecord, locateScript, normalizePath, preprocess, scriptCandidates } from './script.js';
export type { PreprocessOptions, ScriptFiles } from './script.js';
export { runScriptCommand, scriptCommandOf, type CommandRunner, type ScriptCommandOptions } from './script-cmd.js';
