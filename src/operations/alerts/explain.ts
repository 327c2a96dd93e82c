/**
 * What an alert tells a person: what broke, what it means, what to do, and a runbook link.
 * A provider error code on the event (data.code, data.httpStatus, data.providerCode) gives the
 * most specific text (src/drivers/explain.ts, seed 000 §4.1: the error code "emailed to the
 * operator with an explanation and link to Wiki"); otherwise the failure kind of the rule does.
 * Every anchor used here has a section in docs/runbooks.md (written from these tables by
 * `runbooksMarkdown`, kept equal by a test).
 */
import { ERROR_CODES, NubisError, type ErrorCode } from '../../errors/index.js';
import { explainCloudError, explanationCatalogue, codeRunbook } from '../../drivers/index.js';

export interface AlertExplanation {
  /** What it means. */
  meaning: string;
  /** What to do next. */
  whatToDo: string;
  /** The anchor of its section in docs/runbooks.md. */
  runbook: string;
  /** The link to that section. */
  runbookUrl: string;
  /** The error code, when the alert came from a classified error. */
  code?: ErrorCode;
  httpStatus?: number;
  providerCode?: string;
}

interface Kind {
  title: string;
  meaning: string;
  whatToDo: string;
  steps: string[];
}

/** Failure kinds, by the anchor the built-in rules (and generic rules) use. */
export const FAILURE_KINDS: Readonly<Record<string, Kind>> = {
  'backup-failed': {
    title: 'backup failed',
    meaning: 'A backup did not complete, or its copy in long-term storage did not match the size and SHA-256 recorded at the source. It does not count as a backup: the last good one is older.',
    whatToDo: 'Read the reason in the alert (snapshot failed, store full or unreachable, checksum mismatch), fix it, and run the backup again with `nubis backups run <deployment>`.',
    steps: ['`nubis events --kind backup.*` shows each attempt and its reason.', 'A full store: prune with the retention policy or give the store room.', 'A checksum mismatch: check the store\'s disk and network path; never keep the partial copy.', 'The alert resolves when the next backup of the same policy succeeds.'],
  },
  'drill-failed': {
    title: 'restore drill failed',
    meaning: 'A restore drill restored the latest backup onto a scratch node and the health probe (or verify handler) did not pass: that backup cannot be trusted to restore.',
    whatToDo: 'Look at the drill\'s events and the scratch node\'s logs, fix the backup contents or the restore handler, then run `nubis backups drill <deployment>` again.',
    steps: ['Until a drill passes, recovery does not use that backup.', 'The alert resolves when a drill of the same policy passes.'],
  },
  'restore-failed': {
    title: 'restore failed',
    meaning: 'A restore (in place or onto a new node) did not complete.',
    whatToDo: 'Read the reason, check the backup it used and the target node, and restore again; the previous state was kept where the restore could not finish.',
    steps: ['The alert resolves when a restore of the same target succeeds.'],
  },
  'recovery-gave-up': {
    title: 'recovery gave up',
    meaning: 'The recovery ladder (restart the component, reboot the node, recreate it from the latest verified backup) reached its give-up limit: the instance is still unhealthy and Nubis stopped trying so it does not flap.',
    whatToDo: 'A person is needed: look at the instance\'s logs and the node in the cloud console, fix the cause, then `nubis recovery reset <deployment> <instance>` re-arms the ladder (it also re-arms itself once the instance stays healthy long enough).',
    steps: ['`nubis events --kind recovery.*` lists every step and its reason.', 'Node unreachable and component failed are told apart (the event\'s data.failure).', 'The alert resolves when the instance recovers (recovery.recovered).'],
  },
  'provider-error': {
    title: 'cloud error that is not retried',
    meaning: 'A cloud refused an action in a way that retrying will not change (bad request, credentials, payment, permission, quota); the node is marked failed.',
    whatToDo: 'Follow the explanation of the error code below; after fixing the cause, apply again.',
    steps: ['The alert resolves when the node runs or is deleted.'],
  },
  'budget-exceeded': {
    title: 'budget exceeded',
    meaning: 'The cost of what runs passed its budget. Left alone, a prepaid account runs out of credit and the provider may delete its resources (seed 000 §6.5).',
    whatToDo: 'Look for what keeps billing that should not (nodes, volumes, addresses or VLANs left behind), scale down, or raise the budget.',
    steps: ['The alert resolves when the cost is back within the budget.'],
  },
  'budget-warning': {
    title: 'budget threshold crossed',
    meaning: 'The cost of what runs this month crossed a warning threshold of its budget (80 % by default).',
    whatToDo: 'Check `nubis cost --by deployment` and `nubis leaks list` for what bills; scale down or raise the budget before it is used up.',
    steps: ['The alert resolves when the cost is back within the budget (budget.ok), for example once the month ends or the budget is raised.'],
  },
  'leak-found': {
    title: 'leaked cloud resource',
    meaning: 'The leak guard found a resource that keeps billing although no node or intent of Nubis needs it: a volume, VLAN, address, port, security group, snapshot or image left behind, as the provider in seed 000 §6.5 kept private VLANs of deleted servers and charged for them on every provisioning round.',
    whatToDo: 'Check it in the provider\'s console and delete it there, or let Nubis delete leaks of that cloud after a grace period: `nubis leaks policy set <cloud> --delete-after 1h`.',
    steps: ['`nubis leaks list` shows each leak, why it is one and when the policy deletes it.', 'A resource whose create is still in flight is never reported.', 'The alert resolves when the resource is deleted (leak.deleted) or no longer listed (leak.gone).'],
  },
  'metric-condition': {
    title: 'metric condition',
    meaning: 'A metric crossed the threshold of an alert rule and stayed there for the rule\'s `for`.',
    whatToDo: 'Look at the series with `nubis metrics query`; scale, fix the component, or adjust the rule\'s threshold.',
    steps: ['The alert resolves when the value is back inside the threshold.'],
  },
  'event-rule': {
    title: 'event rule',
    meaning: 'An event matched an alert rule of this tenant or deployment.',
    whatToDo: 'Read the event\'s reason; the rule\'s author knows what it calls for.',
    steps: ['With `resolvedBy`, the alert resolves on the named event of the same subject; else acknowledge it with `nubis alerts ack`.'],
  },
  'delivery-failed': {
    title: 'alert could not be delivered',
    meaning: 'A channel did not accept an alert after its attempts (the webhook answered an error or nothing, the mail server refused).',
    whatToDo: 'Check the channel\'s URL or mail server and its credential, then `nubis alerts test <channel>`.',
    steps: ['The alert is still open and visible with `nubis alerts list`.'],
  },
  'test': {
    title: 'test alert',
    meaning: 'A test alert sent with `nubis alerts test`.',
    whatToDo: 'Nothing: it shows the channel works.',
    steps: [],
  },
};

/** GitHub's heading anchor of a section title: lower case, punctuation dropped, spaces to hyphens. */
export function slug(title: string): string {
  return title.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

const KNOWN = new Set([...explanationCatalogue().map((e) => e.runbook), ...Object.keys(FAILURE_KINDS)]);

/** Builds runbook links: `<base>#<anchor>`; base default `docs/runbooks.md`. */
export function runbookLink(base: string, anchor: string): string {
  return `${base}#${slug(anchor)}`;
}

const isCode = (v: unknown): v is ErrorCode => typeof v === 'string' && Object.hasOwn(ERROR_CODES, v);

/**
 * The explanation of an alert: by the error code in `data` when there is one (with its HTTP
 * status and provider code), else by the rule's failure kind.
 */
export function explainAlert(kind: string, data: Record<string, unknown> | undefined, reason: string | undefined, base: string): AlertExplanation {
  const code = data?.['code'];
  if (isCode(code)) {
    const details: Record<string, unknown> = {};
    if (typeof data?.['httpStatus'] === 'number') details['httpStatus'] = data['httpStatus'];
    if (typeof data?.['providerCode'] === 'string') details['providerCode'] = data['providerCode'];
    const x = explainCloudError(new NubisError(code, reason ?? ERROR_CODES[code].summary, { details }), typeof data?.['platform'] === 'string' ? data['platform'] : undefined);
    // an EC2 code not in the table has no section of its own: its Nubis code's section stands in
    const anchor = KNOWN.has(x.runbook) ? x.runbook : codeRunbook(code);
    const out: AlertExplanation = { meaning: x.meaning, whatToDo: x.whatToDo, runbook: anchor, runbookUrl: runbookLink(base, anchor), code };
    if (x.httpStatus !== undefined) out.httpStatus = x.httpStatus;
    if (x.providerCode !== undefined) out.providerCode = x.providerCode;
    return out;
  }
  const anchor = Object.hasOwn(FAILURE_KINDS, kind) ? kind : 'event-rule';
  const k = FAILURE_KINDS[anchor]!;
  return { meaning: k.meaning, whatToDo: k.whatToDo, runbook: anchor, runbookUrl: runbookLink(base, anchor) };
}

/** The title of a failure kind, such as `backup failed`. */
export function kindTitle(kind: string): string {
  return (Object.hasOwn(FAILURE_KINDS, kind) ? FAILURE_KINDS[kind]! : FAILURE_KINDS['event-rule']!).title;
}

/** The text of docs/runbooks.md: one short section per failure kind and per error explanation. */
export function runbooksMarkdown(): string {
  const lines = [
    '# Runbooks',
    '',
    'What to do when Nubis alerts you. Every alert links to one section here: first the failure',
    'kinds of the alert rules, then every provider error and Nubis error code an alert can carry.',
    'This file is written from the tables in `src/operations/alerts/explain.ts` and',
    '`src/drivers/explain.ts` (`node dist/src/operations/alerts/write-runbooks.js`); a test keeps them equal.',
    '',
    '## Failure kinds',
    '',
  ];
  for (const [anchor, k] of Object.entries(FAILURE_KINDS)) {
    lines.push(`### ${anchor}`, '', `**${k.title}.** ${k.meaning}`, '', `What to do: ${k.whatToDo}`, '');
    for (const s of k.steps) lines.push(`- ${s}`);
    if (k.steps.length) lines.push('');
  }
  lines.push('## Error codes', '');
  for (const e of explanationCatalogue()) {
    lines.push(`### ${e.runbook}`, '', `\`${e.code}\`${ERROR_CODES[e.code].retryable ? ' (retried)' : ' (not retried)'}. ${e.meaning}`, '', `What to do: ${e.whatToDo}`, '');
  }
  return lines.join('\n');
}
