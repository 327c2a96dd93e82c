/**
 * model — the application spec: types, JSON Schema, YAML parsing with precise errors.
 * Pure: no I/O beyond the text it is given.
 */
export * from './schema.js';
export type * from './types.js';
export {
  parseSpec, parseDuration, DEFAULTS, type ParseOptions, type PathProblem,
  ruleProblems, scheduleProblems, metricProblems, scrapeProblems, normaliseMetric, normaliseRule, normaliseSchedule, normaliseScrape,
} from './parse.js';
export { sealSpecSecrets, openSecretEnv, redactSpecText, maskSecrets, hasSecrets, REDACTED, type SealingKey } from './secrets.js';
export { specJsonSchema, specJsonSchemaText, SPEC_SCHEMA_ID } from './json-schema.js';
export { locateInSpec, withSpecPosition } from './locate.js';
export {
  operationProblems, normaliseOperations, resolveOperationParams, operationEnv, paramEnvName, PARAM_ENV_PREFIX, MAX_PARAM_CHARS,
  type OperationProblem, type ParamValue,
} from './operations.js';
export { checkCloudConfig, userDataFits, measuredSize, USER_DATA_LIMITS, NUBIS_OWNED_PATHS, NUBIS_PART_RESERVE_BYTES, type CloudConfigProblem, type UserDataPlatform } from './cloud-init.js';
export * from './alerts-schema.js';
export {
  alertRuleProblems, alertChannelProblems, normaliseAlertRule, normaliseAlertChannel, builtinAlertRule, BUILTIN_ALERT_RULES, ALERT_DEFAULTS,
  type AlertRuleSpec, type AlertChannelSpec, type AlertsSpec, type AlertTriggerSpec, type WhereValue, type AlertProblem,
} from './alerts.js';
export { RECOVERY_DEFAULTS, recoveryProblems, normaliseRecovery, type RecoveryProblem } from './recovery.js';
export type { FirewallSpec } from './policy.js';
export * from './backups-schema.js';
export { backupsProblems, normaliseBackups, BACKUP_DEFAULTS, type BackupPolicySpec, type BackupStoreSpec, type BackupScheduleSpec, type BackupHandlerSpec, type BackupProblem } from './backups.js';
