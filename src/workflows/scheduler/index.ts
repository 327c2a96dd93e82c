/**
 * scheduler — the run-time semantics of ecFlow suites (see ../README.md): `createRuntime`
 * builds a `WorkflowRuntime` (../model/runtime.ts) for one loaded definition.
 */
export { createRuntime, type RuntimeOptions } from './runtime.js';
export { evaluateExpression, evaluateValue, falseTerms, STATE_VALUE, type ExprEnv } from './evaluate.js';
