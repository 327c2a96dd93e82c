/** def — .def files and the YAML form: parse, check, print (see ./parse.ts, ./check.ts, ./print.ts, ./yaml.ts). */
export { parseDef } from './parse.js';
export { checkDefinition, resolveNodePath, type Resolved } from './check.js';
export { printDef } from './print.js';
export { parseWorkflowYaml } from './yaml.js';
