/**
 * scaling — the policies that act on the engine: rules (conditions on metric queries, `for`,
 * bounded actions, cooldown and stabilization; woken by new data for the series they read) and
 * schedules (cron or one-off counts). The composition root builds one service over the metrics
 * catalog and hands it to the API.
 */
export * from './rules/index.js';
export * from './schedule/index.js';
export { createScalingService, type RuleView, type ScalingService, type ScalingServiceOptions, type ScheduleView } from './service.js';
