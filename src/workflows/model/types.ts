/**
 * The workflow model: ecFlow's suites, families and tasks with their attributes, as loaded from
 * a .def file or the YAML spec. Plain data (JSON-serialisable); the scheduler (../scheduler/)
 * holds the run-time state of each node separately. Names and semantics follow ecFlow 5.9
 * (see ../README.md for where each rule comes from).
 */

/** Where a construct was written; every load error names one. */
export interface SourceLoc {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
}

export type WfNodeKind = 'suite' | 'family' | 'task';

/** The states ecFlow's expression language knows. `suspended` is a separate flag. */
export type WfState = 'unknown' | 'queued' | 'submitted' | 'active' | 'complete' | 'aborted';

export const WF_STATES: readonly WfState[] = ['unknown', 'queued', 'submitted', 'active', 'complete', 'aborted'];

/** A parent's state is its most significant child's: aborted > active > submitted > queued > complete > unknown. */
export const STATE_SIGNIFICANCE: Readonly<Record<WfState, number>> = {
  unknown: 0,
  complete: 1,
  queued: 2,
  submitted: 3,
  active: 4,
  aborted: 5,
};

// ---------------------------------------------------------------------------------------------
// Expressions (trigger and complete). Printed back by ../expr/ exactly enough to re-parse to
// the same tree (parse → print → parse is the identity on trees).

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-' | '*' | '/' | '%';
export type LogicOp = 'and' | 'or';

export type Expr =
  | { readonly kind: 'number'; readonly value: number }
  /** A state keyword on the right of a comparison: `complete`, `aborted`, … */
  | { readonly kind: 'state'; readonly value: WfState }
  /** `set` (1) or `clear` (0), compared with an event. */
  | { readonly kind: 'eventValue'; readonly value: 'set' | 'clear' }
  /**
   * A node path, alone (its state) or with `:name` (event, meter, variable, repeat, generated
   * variable or limit of that node; ecFlow resolves a clash in that order). Paths: `x` (sibling),
   * `../x`, `./x`, `/suite/f/x`.
   */
  | { readonly kind: 'ref'; readonly path: string; readonly attr?: string; readonly loc?: SourceLoc }
  /** `node<flag>late` etc. */
  | { readonly kind: 'flag'; readonly path: string; readonly flag: string; readonly loc?: SourceLoc }
  | { readonly kind: 'not'; readonly arg: Expr }
  | { readonly kind: 'logic'; readonly op: LogicOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'arith'; readonly op: ArithOp; readonly left: Expr; readonly right: Expr };

/** An expression as written (for export and messages) and as parsed. */
export interface WfExpression {
  readonly text: string;
  readonly expr: Expr;
  readonly loc?: SourceLoc;
}

// ---------------------------------------------------------------------------------------------
// Attributes

export interface WfVariable { readonly name: string; readonly value: string }
/** `event [N] NAME [set]`: `number` is ecFlow's optional event number; `initial` true when declared `set`. */
export interface WfEvent { readonly name: string; readonly number?: number; readonly initial: boolean }
export interface WfMeter { readonly name: string; readonly min: number; readonly max: number; readonly threshold?: number }
export interface WfLabel { readonly name: string; readonly value: string }
export interface WfLimit { readonly name: string; readonly tokens: number }
/** `inlimit [-n|-s] [/path:]NAME [tokens]`. */
export interface WfInLimit {
  /** Path of the node that holds the limit; absent: the nearest ancestor (or self) with a limit of that name. */
  readonly path?: string;
  readonly name: string;
  readonly tokens: number;
  /** `-n`: the node as a whole takes a token, not each task below it. */
  readonly nodeOnly: boolean;
  /** `-s`: only the submitted state holds the token. */
  readonly submissionOnly: boolean;
}

export type WfRepeat =
  | { readonly kind: 'integer'; readonly name: string; readonly start: number; readonly end: number; readonly step: number }
  | { readonly kind: 'enumerated'; readonly name: string; readonly values: readonly string[] }
  | { readonly kind: 'string'; readonly name: string; readonly values: readonly string[] }
  /** Dates as yyyymmdd integers; `step` in days. */
  | { readonly kind: 'date'; readonly name: string; readonly start: number; readonly end: number; readonly step: number }
  | { readonly kind: 'datelist'; readonly name: string; readonly dates: readonly number[] }
  | { readonly kind: 'day'; readonly step: number };

export interface WfClockTime { readonly h: number; readonly m: number }

/** `time`/`today [+]hh:mm [hh:mm hh:mm]`: one time, or a series start/end/step. */
export interface WfTimeSpec {
  /** `+hh:mm`: relative to the suite's begin (or the requeue under a repeat). */
  readonly relative: boolean;
  readonly start: WfClockTime;
  readonly end?: WfClockTime;
  readonly step?: WfClockTime;
}

/** `date dd.mm.yyyy`, each part optional (`*`). */
export interface WfDateSpec { readonly day?: number; readonly month?: number; readonly year?: number }

export type WfDayName = 'sunday' | 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday';

/** `cron [-w days] [-d days] [-m months] time`: lists are empty when not restricted. */
export interface WfCronSpec {
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekDays: readonly number[];
  /** `-w 5L`: the last such weekday of the month. */
  readonly lastWeekDays: readonly number[];
  readonly monthDays: readonly number[];
  /** `-d L`: the month's last day. */
  readonly lastDayOfMonth: boolean;
  readonly months: readonly number[];
  readonly time: WfTimeSpec;
}

/**
 * `late [-s [+]hh:mm] [-a hh:mm] [-c [+]hh:mm]`: when a task is late (only a flag is set, and an
 * event). `-s`: longest time submitted (always relative); `-a`: time of day it must be active by;
 * `-c`: complete by a time of day, or (`+`) within that long of becoming active. Inherited
 * per aspect: a task uses the nearest of itself and its ancestors giving each aspect.
 */
export interface WfLate {
  readonly submitted?: WfClockTime;
  readonly active?: WfClockTime;
  readonly complete?: WfClockTime;
  readonly completeRelative: boolean;
}

/** `autocancel +hh:mm | hh:mm | N`: remove the node once complete, after a delay, at a time of day, or after N days. */
export type WfAutoCancel =
  | { readonly kind: 'relative' | 'absolute'; readonly time: WfClockTime }
  | { readonly kind: 'days'; readonly days: number };

/**
 * `autoarchive +hh:mm | hh:mm | N [-i]` on a suite or family: once complete (with `-i` also
 * while queued or aborted: idle) for that long, at that time of day or for N days, its children
 * are archived: out of the workflow until restored (a requeue or begin of the node, or an
 * `autorestore` naming it).
 */
export interface WfAutoArchive {
  readonly when: WfAutoCancel;
  readonly idle: boolean;
}

/** `endclock [dd.mm.yyyy] [gain]` on a suite: where ecFlow's simulator stops (no effect on a server). */
export interface WfEndClock {
  readonly date?: { readonly day: number; readonly month: number; readonly year: number };
  readonly gainSeconds?: number;
  readonly gainPlus?: boolean;
}

/**
 * `clock real|hybrid [dd.mm.yyyy] [gain]` on a suite: its calendar. `hybrid` keeps the date of the
 * begin (time of day still moves); a date sets the calendar's day at begin; gain in seconds
 * (written as seconds or `[+]hh:mm`).
 */
export interface WfSuiteClock {
  readonly hybrid: boolean;
  readonly date?: { readonly day: number; readonly month: number; readonly year: number };
  readonly gainSeconds?: number;
  /** Gain written with a `+` (printed back so). */
  readonly gainPlus?: boolean;
}

/** `queue NAME step…`: steps handed out one at a time by the `--queue` child command. */
export interface WfQueue { readonly name: string; readonly values: readonly string[] }

/** `generic NAME value…`: kept and exported unchanged, no meaning at run time. */
export interface WfGeneric { readonly name: string; readonly values: readonly string[] }

export type WfZombieType = 'user' | 'ecf' | 'ecf_pid' | 'ecf_pid_passwd' | 'ecf_passwd' | 'path';
export type WfZombieAction = 'fob' | 'fail' | 'adopt' | 'remove' | 'block' | 'kill';
export type WfZombieCommand = 'init' | 'event' | 'meter' | 'label' | 'wait' | 'queue' | 'abort' | 'complete';

/** `zombie TYPE:ACTION:CHILD_CMDS:LIFETIME`: how a zombie of that type is answered (commands empty: all). */
export interface WfZombie {
  readonly type: WfZombieType;
  readonly action?: WfZombieAction;
  readonly commands: readonly WfZombieCommand[];
  /** Seconds (at least 60). */
  readonly lifetime: number;
}

// ---------------------------------------------------------------------------------------------
// Nubis task kinds (not in ecFlow): a job runs a script on a pool's node; an action asks the engine.

/** What an engine-action task does. In a .def file it is written `edit NUBIS_ACTION '<verb> <args>'`. */
export type WfAction =
  | { readonly verb: 'start'; readonly deployment: string; readonly component: string }
  | { readonly verb: 'stop'; readonly deployment: string; readonly component: string }
  /** Scale a component, or a pool's component, to `count` (clone N). */
  | { readonly verb: 'scale'; readonly deployment: string; readonly component: string; readonly count: number }
  | { readonly verb: 'destroyPool'; readonly pool: string }
  /** Wait until a metric query's value satisfies `op threshold` (the task completes then). */
  | { readonly verb: 'waitMetric'; readonly query: string; readonly op: CompareOp; readonly threshold: number }
  | { readonly verb: 'backup'; readonly deployment: string; readonly component: string }
  /** Run a component's custom operation on its running instances with these parameter values (as text; the operation's declaration types them). */
  | { readonly verb: 'operation'; readonly deployment: string; readonly component: string; readonly operation: string; readonly params: Readonly<Record<string, string>> };

/** Where a workflow's jobs run: a component's instances, each with `slots` job slots. */
export interface WfPool {
  readonly name: string;
  readonly deployment: string;
  readonly component: string;
  /** Most jobs at once on one node. Default 1. */
  readonly slots: number;
  /** Ready by this time (ISO or `hh:mm` on the suite's clock): provisioning starts early enough. */
  readonly readyBy?: string;
  /** Grow and shrink with the queue of waiting jobs. */
  readonly autoscale?: { readonly min: number; readonly max: number; readonly jobsPerNode: number; readonly cooldownMs: number };
  readonly loc?: SourceLoc;
}

export interface WfNodeDef {
  readonly kind: WfNodeKind;
  readonly name: string;
  readonly loc?: SourceLoc;
  readonly variables: readonly WfVariable[];
  readonly events: readonly WfEvent[];
  readonly meters: readonly WfMeter[];
  readonly labels: readonly WfLabel[];
  readonly limits: readonly WfLimit[];
  readonly inlimits: readonly WfInLimit[];
  /** `trigger` lines joined with their `-a`/`-o` continuations. */
  readonly trigger?: WfExpression;
  readonly complete?: WfExpression;
  readonly defstatus?: WfState | 'suspended';
  readonly repeat?: WfRepeat;
  readonly times: readonly WfTimeSpec[];
  readonly todays: readonly WfTimeSpec[];
  readonly dates: readonly WfDateSpec[];
  readonly days: readonly WfDayName[];
  readonly crons: readonly WfCronSpec[];
  readonly late?: WfLate;
  readonly autocancel?: WfAutoCancel;
  /** Suites and families. */
  readonly autoarchive?: WfAutoArchive;
  /** Node paths (as written, resolved as trigger paths are) restored when this node completes. */
  readonly autorestore?: readonly string[];
  /** Suites only. */
  readonly clock?: WfSuiteClock;
  /** Suites only. */
  readonly endclock?: WfEndClock;
  readonly queues?: readonly WfQueue[];
  readonly generics?: readonly WfGeneric[];
  readonly zombies?: readonly WfZombie[];
  /** Tasks only: an engine action instead of a script job. */
  readonly action?: WfAction;
  /** Families and suites; empty for tasks. */
  readonly children: readonly WfNodeDef[];
}

/** One loaded definition: what `nubis workflow load|import` stores under a workflow name. */
export interface WfDefinition {
  /** The workflow's name (a suite name when imported from .def with one suite). */
  readonly name: string;
  readonly suites: readonly WfNodeDef[];
  /** `extern /path[:attr]` lines: references allowed to nodes outside this definition. */
  readonly externs: readonly string[];
  readonly pools: readonly WfPool[];
  /** Server-level user variables (ECF_HOME, ECF_FILES, ECF_INCLUDE, …) given at load. */
  readonly variables: readonly WfVariable[];
}

/** An empty attribute set, to build nodes from. */
export function emptyNode(kind: WfNodeKind, name: string, loc?: SourceLoc): WfNodeDef {
  return {
    kind, name, ...(loc ? { loc } : {}),
    variables: [], events: [], meters: [], labels: [], limits: [], inlimits: [],
    times: [], todays: [], dates: [], days: [], crons: [], children: [],
  };
}
