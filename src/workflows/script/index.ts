/** script — ecFlow script lookup and preprocessing (see ./script.ts). */
export { filesFromRecord, locateScript, normalizePath, preprocess, scriptCandidates } from './script.js';
export type { PreprocessOptions, ScriptFiles } from './script.js';
export { fetchedJobText, runScriptCommand, scriptCommandOf, type CommandRunner, type ScriptCommand, type ScriptCommandOptions } from './script-cmd.js';
