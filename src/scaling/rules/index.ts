/**
 * Scaling rules: conditions on query results (with quantifiers over a component's ready
 * instances), a `for` duration, actions bounded by min and max, cooldown and scale-down
 * stabilization. See ./condition.ts for the semantics of missing data and readiness, and
 * ./evaluator.ts for timing, cooldown and stabilization.
 */
export { evaluateCondition, satisfies, OBSERVED_MAX, type ConditionContext, type ConditionOutcome, type Observation, type Truth } from './condition.js';
export { ruleReads, readsAny, type RuleReads } from './reads.js';
export { boundedTarget, capOf, rawTarget, ruleBounds, type Bounds, type Cap } from './action.js';
export {
  createRuleEvaluator, describeAction, thresholdsOf,
  type ComponentSnapshot, type RuleEntry, type RuleEvaluator, type RuleEvaluatorOptions, type RuleReport, type RuleState, type SuppressionReason,
} from './evaluator.js';
