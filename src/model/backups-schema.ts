/**
 * The `backups` section of a spec: named backup policies, each for one component — when
 * (cron with a time zone), what (a node snapshot through the driver, or an archive of the
 * instance: its `backup` handler's dump and listed directories), where (a long-term store:
 * a directory, SFTP with a pinned host key, an S3-compatible bucket), how many to keep, a
 * restore drill schedule and a final backup on destroy. Closed objects like the rest of the spec.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';

const closed = <T extends TProperties>(props: T, description?: string): TObject<T> =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });

const NAME = '^[a-z][a-z0-9-]{0,39}$';
const CRON = '^\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+$';
const DURATION = '^[0-9]+(ms|s|m|h)$';
/** A path inside the instance directory: letters, digits, `._/-` (relative, no `..`: checked by ./backups.ts). */
export const BACKUP_PATH_PATTERN = '^[A-Za-z0-9._/-]{1,200}$';
/** OpenSSH's fingerprint form of a host key: `SHA256:` and 43 base64 characters. */
export const HOST_KEY_PATTERN = '^SHA256:[A-Za-z0-9+/]{43}=?$';

export const BackupSchedule = closed(
  {
    cron: Type.String({ pattern: CRON, description: '5-field cron: minute hour day-of-month month day-of-week' }),
    timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone the cron is read in; default UTC' })),
  },
  'when: a cron expression in a time zone',
);

export const BackupWhat = closed(
  {
    snapshot: Type.Optional(
      closed(
        { volumes: Type.Optional(Type.Boolean({ description: 'also snapshot the node\'s attached volumes; default false' })) },
        'a node snapshot through the cloud (sim, openstack, ec2, cloudsigma): the boot disk as an image, downloaded to the store',
      ),
    ),
    dump: Type.Optional(Type.Boolean({ description: 'run the component\'s `backup` handler first; it writes its dump into $NUBIS_BACKUP_DIR, which is archived' })),
    paths: Type.Optional(
      Type.Array(Type.String({ pattern: BACKUP_PATH_PATTERN }), {
        minItems: 1, maxItems: 100, description: 'directories or files of the instance directory to archive (local, ssh: a tar streamed through the node\'s agent)',
      }),
    ),
  },
  'what is backed up: exactly one of snapshot, or dump and/or paths (an archive)',
);

export const BACKUP_STORE_KINDS = ['dir', 'sftp', 's3'] as const;
export type BackupStoreKind = (typeof BACKUP_STORE_KINDS)[number];

/**
 * One closed object for the three kinds (so an error names the field, not a union member);
 * which fields each kind takes and needs is checked by ./backups.ts:
 * dir {path}; sftp {host, port?, user, path, hostKey, credential}; s3 {bucket, prefix?, region?, endpoint?, forcePathStyle?, credential}.
 */
export const BackupStoreDoc = closed(
  {
    kind: Type.Union(BACKUP_STORE_KINDS.map((k) => Type.Literal(k)), { description: 'dir: a directory on the control plane\'s host; sftp: an SFTP server (ssh2); s3: an S3-compatible bucket (AWS SDK v3)' }),
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'dir: an absolute directory; sftp: the directory on the server' })),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'sftp: the server' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'sftp: default 22' })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'sftp: the login' })),
    hostKey: Type.Optional(Type.String({ pattern: HOST_KEY_PATTERN, description: 'sftp: the server\'s host key fingerprint, pinned (ssh-keygen -lf: SHA256:…); any other key is refused' })),
    bucket: Type.Optional(Type.String({ minLength: 3, maxLength: 63, description: 's3: the bucket' })),
    prefix: Type.Optional(Type.String({ maxLength: 500, description: 's3: keys start with this' })),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 's3: default us-east-1' })),
    endpoint: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 500, description: 's3: an S3-compatible endpoint; default AWS' })),
    forcePathStyle: Type.Optional(Type.Boolean({ description: 's3: the bucket in the path, not the host name (most S3-compatible servers)' })),
    credential: Type.Optional(Type.String({ pattern: NAME, description: 'sftp, s3: name of a stored credential (sftp: privateKey or password; s3: accessKeyId and secretAccessKey)' })),
  },
  'where copies are kept: a directory, an SFTP server or an S3-compatible bucket',
);

export const BackupRetention = closed(
  {
    last: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'keep the newest N good backups; default 7' })),
    daily: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, description: 'also keep the newest of each of the last N days' })),
    weekly: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, description: 'also keep the newest of each of the last N ISO weeks' })),
    monthly: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, description: 'also keep the newest of each of the last N months' })),
  },
  'how many good backups to keep; older ones are deleted from the store (and the cloud)',
);

export const BackupPolicy = closed(
  {
    component: Type.String({ pattern: NAME, description: 'the component whose instances are backed up' }),
    schedule: Type.Optional(BackupSchedule),
    what: BackupWhat,
    store: BackupStoreDoc,
    retention: Type.Optional(BackupRetention),
    drill: Type.Optional(closed({ schedule: BackupSchedule }, 'a scheduled restore drill of the latest backup onto a scratch node')),
    onDestroy: Type.Optional(Type.Boolean({ description: 'take a final backup before the deployment is destroyed (destroy waits for it); default false' })),
    timeout: Type.Optional(Type.String({ pattern: DURATION, description: 'how long one backup, restore or drill may take; default 1h' })),
  },
  'a backup policy: when, what, where, how many to keep',
);

export const BackupsSection = Type.Record(Type.String({ pattern: NAME }), BackupPolicy, {
  additionalProperties: false,
  description: 'backup policies, by name (`nubis backups …`)',
});

export type BackupPolicyDoc = Static<typeof BackupPolicy>;
export type BackupStoreSpecDoc = Static<typeof BackupStoreDoc>;
