/** The PromQL-compatible query subset: parser and embedded engine (see README.md beside this file). */
export { createQueryEngine, labelsKey, type QueryEngine, type QueryEngineOptions } from './engine.js';
export { parseQuery, formatExpr, typeOf, functionsUsed, FUNCTIONS, type Expr, type ValueType, type FunctionSpec } from './parser.js';
