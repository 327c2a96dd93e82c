/** The tables of alerts (migration 0023; src/operations/alerts). Every row carries its tenant. */

/** An alert rule or channel made at run time (the spec's live in the deployment's spec). */
export interface AlertObjectTable {
  tenant: string;
  /** rule | channel */
  kind: string;
  name: string;
  body_json: string;
  /** A channel's secret (webhook signing key, SMTP password), sealed with the installation key. */
  sealed_secret: string | null;
  key_id: string | null;
  updated_at: number;
}

/** One alert: a rule fired for a subject; open until its condition clears. */
export interface AlertTable {
  id: string;
  tenant: string;
  /** The deployment id it concerns, when it concerns one. */
  deployment: string | null;
  rule: string;
  subject: string;
  /** `tenant\u0000rule\u0000subject` while open or acknowledged, null once resolved: one open alert per key (unique). */
  open_key: string | null;
  /** open | acked | resolved */
  state: string;
  severity: string;
  title: string;
  /** Explanation, what happened, the last event: the alert's message parts as JSON. */
  body_json: string;
  /** How often the rule fired for this subject while the alert was open. */
  count: number;
  opened_at: number;
  last_seen_at: number;
  /** When a channel was last asked to send it (open or reminder); null when not yet. */
  notified_at: number | null;
  resolved_at: number | null;
  acked_at: number | null;
  acked_by: string | null;
}

/** One message of an alert to one channel, retried until delivered or given up. */
export interface AlertDeliveryTable {
  id: string;
  tenant: string;
  alert: string;
  channel: string;
  /** opened | reminder | resolved | test */
  message: string;
  /** The message as sent (no secrets): JSON. */
  payload_json: string;
  /** pending | delivered | failed */
  state: string;
  attempts: number;
  next_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}
