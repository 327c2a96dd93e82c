/**
 * An alert as its tenant sees it (API, CLI, webhook JSON) and as a person reads it (mail,
 * log): deployment ids and resource keys shown by the tenant's own names, never a secret.
 */
import { localText } from '../../engine/index.js';
import { splitDeploymentId, type AlertRow } from '../../store/index.js';
import type { AlertExplanation } from './explain.js';

/** What the alert row's body holds. */
export interface AlertBody {
  /** What broke: the triggering event's reason, or the metric's value. */
  what: string;
  /** The failure kind (an anchor in docs/runbooks.md). */
  kind: string;
  explanation: AlertExplanation;
  /** The event that opened (or last repeated) it. */
  event?: { id: number; kind: string; target?: string };
  /** Why it resolved. */
  resolution?: string;
}

export type AlertState = 'open' | 'acked' | 'resolved';
export type AlertMessageKind = 'opened' | 'reminder' | 'resolved' | 'test';

export interface AlertView {
  id: string;
  rule: string;
  subject: string;
  deployment?: string;
  state: AlertState;
  severity: string;
  title: string;
  what: string;
  kind: string;
  explanation: AlertExplanation;
  /** How often the rule fired for this subject while open. */
  count: number;
  openedAt: string;
  lastSeenAt: string;
  notifiedAt?: string;
  resolvedAt?: string;
  resolution?: string;
  ackedAt?: string;
  ackedBy?: string;
  event?: { id: number; kind: string; target?: string };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The view of a row for its tenant. */
export function alertView(row: AlertRow): AlertView {
  const body = JSON.parse(row.body_json) as AlertBody;
  const t = row.tenant;
  const v: AlertView = {
    id: row.id, rule: row.rule, subject: localText(t, row.subject), state: row.state as AlertState, severity: row.severity,
    title: localText(t, row.title), what: localText(t, body.what), kind: body.kind, explanation: body.explanation,
    count: row.count, openedAt: iso(row.opened_at), lastSeenAt: iso(row.last_seen_at),
  };
  if (row.deployment !== null) v.deployment = splitDeploymentId(row.deployment).name;
  if (row.notified_at !== null) v.notifiedAt = iso(row.notified_at);
  if (row.resolved_at !== null) v.resolvedAt = iso(row.resolved_at);
  if (body.resolution !== undefined) v.resolution = localText(t, body.resolution);
  if (row.acked_at !== null) v.ackedAt = iso(row.acked_at);
  if (row.acked_by !== null) v.ackedBy = row.acked_by;
  if (body.event) v.event = { ...body.event, ...(body.event.target !== undefined ? { target: localText(t, body.event.target) } : {}) };
  return v;
}

/** The subject line of a message: `[CRITICAL] backup failed: shop db` or `[RESOLVED] …`. */
export function messageSubject(v: AlertView, kind: AlertMessageKind): string {
  const tag = kind === 'resolved' ? 'RESOLVED' : kind === 'test' ? 'TEST' : v.severity.toUpperCase();
  return `[${tag}] ${v.title}${kind === 'reminder' ? ` (still open, ${v.count}×)` : ''}`;
}

/** The plain-text message: what broke, what it means, what to do, the runbook link. */
export function messageText(v: AlertView, kind: AlertMessageKind): string {
  const lines: string[] = [];
  if (kind === 'resolved') lines.push(`Resolved: ${v.resolution ?? 'the condition cleared'}.`, '');
  lines.push(`What broke: ${v.what}`);
  lines.push(`What it means: ${v.explanation.meaning}`);
  lines.push(`What to do: ${v.explanation.whatToDo}`);
  lines.push(`Runbook: ${v.explanation.runbookUrl}`);
  lines.push('');
  if (v.deployment !== undefined) lines.push(`Deployment: ${v.deployment}`);
  lines.push(`Subject: ${v.subject}`);
  if (v.explanation.code) lines.push(`Error code: ${v.explanation.code}${v.explanation.httpStatus ? ` (HTTP ${v.explanation.httpStatus})` : ''}${v.explanation.providerCode ? ` ${v.explanation.providerCode}` : ''}`);
  lines.push(`Rule: ${v.rule} (${v.severity})`);
  lines.push(`Opened: ${v.openedAt}${v.count > 1 ? `, fired ${v.count} times, last ${v.lastSeenAt}` : ''}`);
  if (v.resolvedAt) lines.push(`Resolved: ${v.resolvedAt}`);
  lines.push(`Alert: ${v.id}${kind !== 'resolved' && kind !== 'test' ? ` (acknowledge with: nubis alerts ack ${v.id})` : ''}`);
  return lines.join('\n') + '\n';
}

/** The JSON a webhook receives. */
export function messagePayload(v: AlertView, kind: AlertMessageKind, sentAt: number): Record<string, unknown> {
  return { type: `alert.${kind}`, subject: messageSubject(v, kind), text: messageText(v, kind), alert: v, sentAt: iso(sentAt) };
}
