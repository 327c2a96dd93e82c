/**
 * alerts — rules on events and metric conditions open alerts (one per rule and subject),
 * sent through channels (webhook, SMTP, the event log) with what broke, what to do and a
 * runbook link, reminded after a quiet period, and resolved when the condition clears.
 */
export { createAlertsService, type AlertsService, type AlertsServiceOptions, type AlertRuleView, type AlertChannelView, type AlertTestResult } from './service.js';
export { AlertChannelInput } from './objects.js';
export { signWebhook, verifyWebhook, SIGNATURE_HEADER, DELIVERY_HEADER, DeliveryError } from './channels.js';
export { backoffMs } from './deliveries.js';
export { explainAlert, runbooksMarkdown, runbookLink, slug, FAILURE_KINDS, type AlertExplanation } from './explain.js';
export { alertView, messageSubject, messageText, type AlertView, type AlertState, type AlertMessageKind } from './view.js';
