/** expr — the trigger/complete expression language (see ./expr.ts). */
export { expressionRefs, parseExpression, parseExpressionParts, printExpression, sameExpr, stripLocs } from './expr.js';
export type { ExpressionPart } from './expr.js';
