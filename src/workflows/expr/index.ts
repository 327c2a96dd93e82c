/** expr — the trigger/complete expression language (see ./expr.ts). */
export { expressionRefs, parseExpression, printExpression, sameExpr, stripLocs } from './expr.js';
