/**
 * Provider errors → stable Nubis codes, and what an operator must be told about them.
 *
 * Two jobs, one table each:
 * - classification: drivers turn a provider answer (an HTTP status, or an EC2 error code such as
 *   `InsufficientInstanceCapacity`) into a NubisError with a CLOUD_* code and a retryable flag
 *   (`classifyHttpError`, `classifyEc2Error`). The runtime wrapper retries what is retryable.
 * - explanation: `explainCloudError` says what the error means and what to do, for the alert an
 *   operator receives (seed 000 §4.1: "the error code … emailed to the operator with an
 *   explanation and link to Wiki"). `runbook` is a stable anchor for that link.
 *
 * The HTTP texts follow seed 000 §4.1 (CloudSigma's list of 400 401 402 403 404 405 406 500 503,
 * after RFC 2616), plus 409, 429, 502 and 504 which clouds also send. The EC2 texts follow the
 * EC2 API reference, "Error codes for the Amazon EC2 API".
 */
import { NubisError, toNubisError, type ErrorCode } from '../errors/index.js';

/** What an operator is told about a cloud error. */
export interface CloudErrorExplanation {
  code: ErrorCode;
  retryable: boolean;
  /** What happened, in the provider's terms. */
  meaning: string;
  /** What the operator should do next. */
  whatToDo: string;
  /** A stable anchor for the runbook entry, such as `cloud-http-402` or `ec2-InstanceLimitExceeded`. */
  runbook: string;
  httpStatus?: number;
  /** The provider's own error code or type, when it sent one. */
  providerCode?: string;
}

interface Entry {
  code: ErrorCode;
  retryable: boolean;
  meaning: string;
  whatToDo: string;
}

const entry = (code: ErrorCode, retryable: boolean, meaning: string, whatToDo: string): Entry => ({ code, retryable, meaning, whatToDo });

/** By HTTP status (seed 000 §4.1 for 400–406, 500, 503). */
export const HTTP_STATUS_ENTRIES: Readonly<Record<number, Entry>> = {
  400: entry('CLOUD_BAD_REQUEST', false,
    'Bad Request: the cloud found an error in the request — a data format error (JSON or XML that does not parse) or an invalid value.',
    'Check the node template and cloud options (image, hardware, network names) against what the cloud offers; the message names the field when the cloud did. Retrying the same request will fail the same way.'),
  401: entry('CLOUD_UNAUTHORIZED', false,
    'Unauthorized: the credentials are incorrect or missing.',
    'Correct or renew the cloud\'s credentials in the credential registry, then apply again. Nothing was changed in the cloud.'),
  402: entry('CLOUD_PAYMENT_REQUIRED', false,
    'Payment Required: the account has not enough funds for this action — buying a subscription, or starting a server without funds for 5 days of burst usage.',
    'Top up the account now. If the credit runs out the provider may delete the account\'s resources (servers and drives); check what keeps billing (listBilled: subscriptions, VLANs, IPs) for leaks.'),
  403: entry('CLOUD_FORBIDDEN', false,
    'Forbidden: the credentials are valid but may not do this — a missing permission, or an operation the cloud does not allow in the resource\'s present state.',
    'Grant the permission to these credentials (or use an account that has it); if the resource is in a state that forbids the action, wait for it to settle or act on it by hand.'),
  404: entry('CLOUD_NOT_FOUND', false,
    'Not Found: the requested object does not exist — it was never created, or it was deleted.',
    'On create: check the names the template refers to (image, clone source, network, key). On other operations the node is gone; Nubis treats it as deleted.'),
  405: entry('CLOUD_BAD_REQUEST', false,
    'Method Not Allowed: the HTTP method is not allowed on this URL (for example DELETE on /profile/).',
    'This is a driver defect or an API version mismatch: check the endpoint URL (API version path) and report it with the correlation id.'),
  406: entry('CLOUD_BAD_REQUEST', false,
    'Not Acceptable: the content type asked for in the Accept header is not supported (the API speaks application/json, application/xml or */*).',
    'This is a driver defect or a proxy rewriting headers: check any proxy between Nubis and the cloud, and report it with the correlation id.'),
  409: entry('CLOUD_CONFLICT', false,
    'Conflict: the request conflicts with an earlier one or with the resource\'s state.',
    'Look at the resource in the cloud\'s console; if an earlier request made it, Nubis adopts it by its tags.'),
  429: entry('CLOUD_RATE_LIMITED', true,
    'Too Many Requests: the cloud is throttling this account.',
    'Nothing: Nubis retries with backoff. If it persists, lower the cloud\'s rate limit or concurrency in the spec, or ask the provider for a higher limit.'),
  500: entry('CLOUD_INTERNAL', true,
    'Internal Server Error: a system error occurred inside the cloud.',
    'Nubis retries with backoff. If it persists, contact the provider\'s support with the time and the correlation id.'),
  502: entry('CLOUD_UNAVAILABLE', true,
    'Bad Gateway: a proxy in front of the cloud API got no valid answer.',
    'Nubis retries with backoff; if it persists, check the provider\'s status page.'),
  503: entry('CLOUD_UNAVAILABLE', true,
    'Service Unavailable: the cloud temporarily cannot fulfil the request — concurrent updates of the same values, or the cloud is out of capacity.',
    'Nubis retries with backoff and lowers its concurrency for this cloud. If it persists, the location may be out of capacity: try another location or hardware, or contact the provider.'),
  504: entry('CLOUD_UNAVAILABLE', true,
    'Gateway Timeout: the cloud API did not answer its proxy in time.',
    'Nubis retries with backoff; if it persists, check the provider\'s status page.'),
};

/** EC2 API error codes (EC2 API reference, "Error codes for the Amazon EC2 API"). */
export const EC2_ERROR_ENTRIES: Readonly<Record<string, Entry>> = {
  AuthFailure: entry('CLOUD_UNAUTHORIZED', false,
    'AuthFailure: the access key id or secret access key is wrong, the session token expired, or the machine clock is more than 5 minutes off.',
    'Correct or renew the credentials (and check the control plane\'s clock), then apply again.'),
  UnrecognizedClientException: entry('CLOUD_UNAUTHORIZED', false,
    'The access key id is not known to this endpoint.',
    'Check the credentials and that the endpoint belongs to the account\'s partition.'),
  ExpiredToken: entry('CLOUD_UNAUTHORIZED', false,
    'The session token has expired.',
    'Renew the temporary credentials (sessionToken) in the credential registry.'),
  UnauthorizedOperation: entry('CLOUD_FORBIDDEN', false,
    'UnauthorizedOperation: the IAM identity behind these credentials is not allowed to perform this action.',
    'Add the action to the IAM policy (the message carries an encoded authorization failure; decode it with `aws sts decode-authorization-message`).'),
  OptInRequired: entry('CLOUD_FORBIDDEN', false,
    'OptInRequired: the account is not subscribed to this service or region.',
    'Enable the region (or the Marketplace image subscription) for the account.'),
  Blocked: entry('CLOUD_FORBIDDEN', false,
    'Blocked: the account is blocked.',
    'Contact AWS Support.'),
  PendingVerification: entry('CLOUD_FORBIDDEN', true,
    'PendingVerification: the account is still being verified.',
    'Wait for verification (usually minutes, up to hours); Nubis retries.'),
  InsufficientInstanceCapacity: entry('CLOUD_UNAVAILABLE', true,
    'InsufficientInstanceCapacity: AWS has not enough capacity of this instance type in this Availability Zone right now.',
    'Nubis retries with backoff. If it persists, allow another location (zone) or a different instance type in the node requirements.'),
  InsufficientHostCapacity: entry('CLOUD_UNAVAILABLE', true,
    'InsufficientHostCapacity: not enough dedicated host capacity.',
    'Retry later or allow another zone.'),
  RequestLimitExceeded: entry('CLOUD_RATE_LIMITED', true,
    'RequestLimitExceeded: the account\'s EC2 API request rate was exceeded.',
    'Nothing: Nubis retries with backoff. If it persists, lower the cloud\'s rate limit in the spec; other tools on the same account share the limit.'),
  Throttling: entry('CLOUD_RATE_LIMITED', true,
    'Throttling: the request rate was exceeded.',
    'Nothing: Nubis retries with backoff.'),
  InstanceLimitExceeded: entry('CLOUD_QUOTA_EXCEEDED', false,
    'InstanceLimitExceeded: the account\'s limit of running instances in this region is reached.',
    'Request a higher limit (Service Quotas) or lower the instance counts; deleting unused instances frees room.'),
  VcpuLimitExceeded: entry('CLOUD_QUOTA_EXCEEDED', false,
    'VcpuLimitExceeded: the account\'s vCPU quota for this instance family in this region is reached.',
    'Request a higher vCPU quota (Service Quotas) or choose smaller instances.'),
  InsufficientFreeAddressesInSubnet: entry('CLOUD_QUOTA_EXCEEDED', false,
    'InsufficientFreeAddressesInSubnet: the subnet has no free IP addresses.',
    'Use a larger subnet or release addresses.'),
  AddressLimitExceeded: entry('CLOUD_QUOTA_EXCEEDED', false,
    'AddressLimitExceeded: the Elastic IP quota is reached.',
    'Release unused Elastic IPs or request a higher quota.'),
  'InvalidAMIID.NotFound': entry('CLOUD_NOT_FOUND', false,
    'InvalidAMIID.NotFound: the image (AMI) does not exist in this region or is not shared with the account.',
    'Pick an image from the discovered images of this cloud (AMI ids differ per region), or fix `imageId`.'),
  'InvalidAMIID.Malformed': entry('CLOUD_BAD_REQUEST', false,
    'InvalidAMIID.Malformed: the image id is not of the form ami-….',
    'Fix `imageId` or the placement\'s image.'),
  'InvalidInstanceID.NotFound': entry('CLOUD_NOT_FOUND', false,
    'InvalidInstanceID.NotFound: no such instance (never existed, terminated long ago, or not yet visible — EC2 is eventually consistent).',
    'On get and delete Nubis treats it as gone. Elsewhere: wait a few seconds and look again.'),
  'InvalidInstanceID.Malformed': entry('CLOUD_NOT_FOUND', false,
    'InvalidInstanceID.Malformed: the id is not of the form i-….',
    'The node id is not an EC2 instance id; the record probably belongs to another cloud.'),
  'InvalidKeyPair.NotFound': entry('CLOUD_NOT_FOUND', false,
    'InvalidKeyPair.NotFound: the key pair does not exist in this region.',
    'Import the key pair (importKeyPair) or fix `keyName`.'),
  'InvalidKeyPair.Duplicate': entry('CLOUD_CONFLICT', false,
    'InvalidKeyPair.Duplicate: a key pair of that name already exists.',
    'Use the existing key pair or another name.'),
  'InvalidGroup.NotFound': entry('CLOUD_NOT_FOUND', false,
    'InvalidGroup.NotFound: the security group does not exist in this region or VPC.',
    'Fix `securityGroupIds` or create the group (createSecurityGroup).'),
  'InvalidGroup.Duplicate': entry('CLOUD_CONFLICT', false,
    'InvalidGroup.Duplicate: a security group of that name already exists.',
    'Use the existing group or another name.'),
  DependencyViolation: entry('CLOUD_CONFLICT', true,
    'DependencyViolation: the resource is still used by another (a security group by an instance, even one shutting down; a volume by an attachment).',
    'Nothing: Nubis retries until the dependent resource is gone. If it persists, find what still uses it in the EC2 console.'),
  CannotDelete: entry('CLOUD_BAD_REQUEST', false,
    'CannotDelete: the resource cannot be deleted by a user (a VPC\'s default security group).',
    'Leave it; it is not billed and not Nubis\'s.'),
  'InvalidPermission.Duplicate': entry('CLOUD_CONFLICT', false,
    'InvalidPermission.Duplicate: the ingress rule already exists.',
    'Nothing: the rule is in place.'),
  'InvalidSubnetID.NotFound': entry('CLOUD_NOT_FOUND', false,
    'InvalidSubnetID.NotFound: the subnet does not exist.',
    'Fix `subnetId`.'),
  'InvalidSnapshot.NotFound': entry('CLOUD_NOT_FOUND', false,
    'InvalidSnapshot.NotFound: the snapshot does not exist.',
    'Check the snapshot id; it may have been deleted.'),
  'InvalidVolume.NotFound': entry('CLOUD_NOT_FOUND', false,
    'InvalidVolume.NotFound: the volume does not exist.',
    'Check the volume id.'),
  IdempotentParameterMismatch: entry('CLOUD_CONFLICT', false,
    'IdempotentParameterMismatch: the same client token (idempotency token) was used earlier with different parameters.',
    'A create was repeated with changed parameters (image, type, tags, user data). Delete the node the first request made (it carries the same nubis-key tag) or let the tag sweep adopt it; do not reuse the token.'),
  IncorrectInstanceState: entry('CLOUD_CONFLICT', true,
    'IncorrectInstanceState: the instance is not in a state that allows this operation (for example rebooting a stopped instance).',
    'Nubis retries once the state settles; if it persists, look at the instance in the console.'),
  IncorrectState: entry('CLOUD_CONFLICT', true,
    'IncorrectState: the resource is not in a state that allows this operation.',
    'Wait for the resource to settle; Nubis retries.'),
  InvalidParameterValue: entry('CLOUD_BAD_REQUEST', false,
    'InvalidParameterValue: a parameter value is invalid.',
    'The message names the parameter: fix the template or cloud options.'),
  InvalidParameterCombination: entry('CLOUD_BAD_REQUEST', false,
    'InvalidParameterCombination: parameters that cannot be used together.',
    'Fix the cloud options (for example subnetId with a security group of another VPC).'),
  MissingParameter: entry('CLOUD_BAD_REQUEST', false,
    'MissingParameter: a required parameter is missing.',
    'Set the missing option (for example `imageId` or `instanceType`).'),
  InvalidParameter: entry('CLOUD_BAD_REQUEST', false,
    'InvalidParameter: a parameter is not valid for this action.',
    'Fix the cloud options.'),
  Unsupported: entry('CLOUD_BAD_REQUEST', false,
    'Unsupported: the request is not supported (for example this instance type in this zone).',
    'Choose another instance type or zone.'),
  InternalError: entry('CLOUD_INTERNAL', true,
    'InternalError: an internal error in EC2.',
    'Nubis retries; if it persists, contact AWS Support with the request id.'),
  InternalFailure: entry('CLOUD_INTERNAL', true,
    'InternalFailure: an internal error in EC2.',
    'Nubis retries; if it persists, contact AWS Support with the request id.'),
  Unavailable: entry('CLOUD_UNAVAILABLE', true,
    'Unavailable: EC2 is temporarily unavailable.',
    'Nubis retries with backoff.'),
  ServiceUnavailable: entry('CLOUD_UNAVAILABLE', true,
    'ServiceUnavailable: the request failed because of a temporary server error.',
    'Nubis retries with backoff.'),
};

function detailsOf(err: NubisError): { httpStatus?: number; providerCode?: string } {
  const d = err.details;
  if (typeof d !== 'object' || d === null) return {};
  const out: { httpStatus?: number; providerCode?: string } = {};
  const s = (d as { httpStatus?: unknown }).httpStatus;
  const p = (d as { providerCode?: unknown }).providerCode;
  if (typeof s === 'number') out.httpStatus = s;
  if (typeof p === 'string') out.providerCode = p;
  return out;
}

function statusEntry(status: number): Entry {
  const e = HTTP_STATUS_ENTRIES[status];
  if (e) return e;
  if (status >= 500) return { ...HTTP_STATUS_ENTRIES[500]! };
  return { ...HTTP_STATUS_ENTRIES[400]! };
}

/**
 * A classified error for a provider's HTTP answer. `providerCode` (such as CloudSigma's
 * `error_type`) is kept in the details; the status decides code and retryability.
 * `message` must not carry secrets: callers pass the provider's message, never a request.
 */
export function classifyHttpError(status: number, message: string, providerCode?: string): NubisError {
  const e = statusEntry(status);
  const details: { httpStatus: number; providerCode?: string } = { httpStatus: status };
  if (providerCode !== undefined) details.providerCode = providerCode;
  return new NubisError(e.code, `${message} (HTTP ${status}${providerCode ? ` ${providerCode}` : ''})`, { retryable: e.retryable, details });
}

/**
 * A classified error for an EC2 error code. Unknown codes fall back to the HTTP status
 * (EC2 sends 400 for client errors, 5xx for its own), so nothing goes unclassified; codes ending
 * in `.NotFound` are CLOUD_NOT_FOUND, in `.Duplicate` CLOUD_CONFLICT, `…LimitExceeded` quota.
 */
export function classifyEc2Error(awsCode: string, httpStatus: number | undefined, message: string): NubisError {
  const e = ec2Entry(awsCode, httpStatus);
  const details: { httpStatus?: number; providerCode: string } = { providerCode: awsCode };
  if (httpStatus !== undefined) details.httpStatus = httpStatus;
  return new NubisError(e.code, `${message} (EC2 ${awsCode}${httpStatus ? `, HTTP ${httpStatus}` : ''})`, { retryable: e.retryable, details });
}

function ec2Entry(awsCode: string, httpStatus: number | undefined): Entry {
  const known = EC2_ERROR_ENTRIES[awsCode];
  if (known) return known;
  if (awsCode.endsWith('.NotFound')) return entry('CLOUD_NOT_FOUND', false, `${awsCode}: a resource the request names does not exist.`, 'Check the ids the template and options refer to.');
  if (awsCode.endsWith('.Duplicate')) return entry('CLOUD_CONFLICT', false, `${awsCode}: the resource already exists.`, 'Use the existing resource or another name.');
  if (awsCode.endsWith('.Malformed')) return entry('CLOUD_BAD_REQUEST', false, `${awsCode}: an id is malformed.`, 'Fix the id in the template or options.');
  if (/LimitExceeded$/.test(awsCode)) return entry('CLOUD_QUOTA_EXCEEDED', false, `${awsCode}: an account limit is reached.`, 'Request a higher limit (Service Quotas) or use fewer resources.');
  return statusEntry(httpStatus ?? 400);
}

/**
 * What to tell an operator about an error from a cloud call. Accepts anything thrown; a
 * NubisError carrying `details.providerCode` of a known EC2 code (platform `ec2`, or any
 * platform when the code is EC2-specific) gets that explanation, else its `details.httpStatus`
 * gets the seed 000 §4.1 text, else its code decides (timeouts, unreachable clouds, aborts).
 */
export function explainCloudError(err: unknown, platform?: string): CloudErrorExplanation {
  const e = toNubisError(err);
  const { httpStatus, providerCode } = detailsOf(e);
  const base = { code: e.code, retryable: e.retryable };
  const extra: { httpStatus?: number; providerCode?: string } = {};
  if (httpStatus !== undefined) extra.httpStatus = httpStatus;
  if (providerCode !== undefined) extra.providerCode = providerCode;
  if (providerCode !== undefined && (platform === 'ec2' || platform === undefined) && (EC2_ERROR_ENTRIES[providerCode] || platform === 'ec2')) {
    const x = ec2Entry(providerCode, httpStatus);
    return { ...base, meaning: x.meaning, whatToDo: x.whatToDo, runbook: `ec2-${providerCode}`, ...extra };
  }
  if (httpStatus !== undefined) {
    const x = statusEntry(httpStatus);
    return { ...base, meaning: x.meaning, whatToDo: x.whatToDo, runbook: `cloud-http-${httpStatus}`, ...extra };
  }
  const byCode = CODE_ONLY[e.code];
  if (byCode) return { ...base, meaning: byCode[0], whatToDo: byCode[1], runbook: codeRunbook(e.code), ...extra };
  return {
    ...base,
    meaning: e.message,
    whatToDo: e.retryable ? 'Nubis retries; if it persists, look at the events of this cloud and contact the provider with the correlation id.' : 'Fix the cause named in the message, then apply again.',
    runbook: codeRunbook(e.code),
    ...extra,
  };
}

/** Errors without an HTTP status: the cloud was not reached, or Nubis gave up waiting. */
const CODE_ONLY: Partial<Record<ErrorCode, [string, string]>> = {
  CLOUD_UNAVAILABLE: ['The cloud API could not be reached (connection refused, DNS or TLS failure) or answered that it is unavailable.',
    'Nubis retries with backoff. If it persists, check the endpoint URL, the network path and the provider\'s status page.'],
  CLOUD_TIMEOUT: ['The cloud did not answer in time.', 'Nubis retries; if it persists, check the provider\'s status page.'],
  CLOUD_QUOTA_EXCEEDED: ['The cloud quota for this account is exhausted.', 'Raise the quota with the provider or lower the counts.'],
  CLOUD_CONFLICT: ['The cloud refused the request as conflicting with an earlier one or with the resource\'s state.', 'Look at the resource in the console; the tag sweep adopts or deletes what an earlier request made.'],
  ABORTED: ['The operation was cancelled (the control plane is stopping or the action was superseded).', 'Nothing: it is resumed or re-planned.'],
  CLOUD_SNAPSHOT_FAILED: ['The cloud accepted the snapshot but then put it (or one of its volume snapshots) in an error state; no usable snapshot exists.',
    'The backup counts as failed and its parts are deleted. Look at the node\'s disk and the cloud\'s image or snapshot quota; the next scheduled backup tries again.'],
  CLOUD_SNAPSHOT_CORRUPT: ['The bytes downloaded from the cloud do not match the checksum (or size) the cloud recorded for the snapshot.',
    'The backup counts as failed and nothing is kept as good. If it repeats, delete the snapshot in the cloud and contact the provider with the image id.'],
  CLOUD_UNSUPPORTED: ['This cloud platform cannot do the operation (for example export a snapshot\'s bytes).',
    'Choose another backup kind in the policy (a handler dump or listed directories), or keep the snapshot in the cloud only.'],
  CLOUD_BAD_REQUEST: ['The cloud rejected the request as malformed or with an invalid value.', 'Check the node template and cloud options against what the cloud offers; retrying the same request fails the same way.'],
  CLOUD_UNAUTHORIZED: ['The cloud rejected the credentials.', 'Correct or renew the credential (`nubis credentials set`), then apply again.'],
  CLOUD_PAYMENT_REQUIRED: ['The cloud account has run out of credit.', 'Top up the account now; when credit runs out providers delete resources. Look for what keeps billing.'],
  CLOUD_FORBIDDEN: ['The credentials are valid but may not do this.', 'Grant the permission to these credentials, or wait for the resource to leave the state that forbids the action.'],
  CLOUD_NOT_FOUND: ['A cloud resource the request names does not exist.', 'Check the image, network and key names the template refers to.'],
  CLOUD_RATE_LIMITED: ['The cloud is throttling this account.', 'Nothing: Nubis retries with backoff. If it persists, lower the cloud\'s rate limit or concurrency.'],
  CLOUD_INTERNAL: ['The cloud failed internally.', 'Nubis retries; if it persists, contact the provider with the time and the correlation id.'],
  AGENT_UNREACHABLE: ['The node agent did not answer: the node is down, frozen or cut off, or the agent stopped.', 'Check the node in the cloud console (is it running?) and its network path; the recovery policy restarts, reboots or recreates it.'],
  HANDLER_FAILED: ['A lifecycle handler exited non-zero.', 'Read its output with `nubis logs <instance> --step <step>`, fix the handler or what it depends on, then apply again.'],
  HANDLER_TIMEOUT: ['A lifecycle handler ran past its timeout and was stopped.', 'Read its output with `nubis logs`; raise the step\'s timeout if the work is legitimately slow.'],
  HEALTH_FAILED: ['The component\'s health probe did not pass.', 'Look at the instance\'s logs and the probe target; the recovery policy restarts the component.'],
  PLACEMENT_NO_FIT: ['No registered offer satisfies the node requirements.', 'Relax the requirements (cores, memory, price, location) or register a cloud that offers them; `nubis plan` says which requirement failed.'],
  CREDENTIAL_KEY_MISMATCH: ['A credential was sealed with another key than the one this server holds.', 'Start the server with the key the credential was stored under (NUBIS_KEY or <data>/secret.key).'],
  CREDENTIAL_TAMPERED: ['A stored credential failed its integrity check.', 'Set the credential again (`nubis credentials set`).'],
  CREDENTIAL_KEY_INVALID: ['The credential key (NUBIS_KEY or the key file) is malformed.', 'Give the base64 text of 32 random bytes (`openssl rand -base64 32`), or restore the key file from its backup.'],
  INTERNAL: ['An unexpected error inside Nubis.', 'Nubis retries; if it persists, report it with the correlation id and the server log.'],
  UNAVAILABLE: ['The server was not ready.', 'Nothing: retry shortly.'],
  BUDGET_EXCEEDED: ['A monthly budget with a hard stop is used up: new nodes are refused; running ones keep running.', 'Look for what keeps billing that should not (`nubis leaks list`, `nubis cost --by deployment`), scale down, or raise the budget (`nubis budgets set`); refused nodes are created once the budget allows.'],
};

/** The runbook anchor of every explanation `explainCloudError` can give, with its texts (docs/runbooks.md is written from these). */
export function explanationCatalogue(): { runbook: string; code: ErrorCode; meaning: string; whatToDo: string }[] {
  const out: { runbook: string; code: ErrorCode; meaning: string; whatToDo: string }[] = [];
  for (const [status, e] of Object.entries(HTTP_STATUS_ENTRIES)) out.push({ runbook: `cloud-http-${status}`, code: e.code, meaning: e.meaning, whatToDo: e.whatToDo });
  for (const [code, e] of Object.entries(EC2_ERROR_ENTRIES)) out.push({ runbook: `ec2-${code}`, code: e.code, meaning: e.meaning, whatToDo: e.whatToDo });
  for (const [code, t] of Object.entries(CODE_ONLY) as [ErrorCode, [string, string]][]) out.push({ runbook: codeRunbook(code), code, meaning: t[0], whatToDo: t[1] });
  return out;
}

/** The runbook anchor of an error code without a provider status: `nubis-cloud-timeout`. */
export function codeRunbook(code: ErrorCode): string {
  return `nubis-${code.toLowerCase().replace(/_/g, '-')}`;
}
