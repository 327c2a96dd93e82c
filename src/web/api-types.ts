// Generated from the Nubis OpenAPI document (GET /openapi.json) by `npm run gen:api-types`. Do not edit:
// test/unit/web-api-types.test.ts fails when this file differs from a fresh generation.
/* eslint-disable */

export type WorkflowTreeNode = {
  name: string;
  path: string;
  kind: "workflow" | "suite" | "family" | "task";
  state: "unknown" | "queued" | "submitted" | "active" | "complete" | "aborted";
  suspended: boolean;
  tryNo?: number;
  reason?: string;
  changedAt?: string;
  events?: {
    [key: string]: boolean;
  };
  meters?: {
    [key: string]: number;
  };
  labels?: {
    [key: string]: string;
  };
  /** ecFlow flags set on the node: late, zombie */
  flags?: string[];
  /** each queue: the next step's index and every step's state */
  queues?: {
    [key: string]: {
      index: number;
      states: string[];
    };
  };
  children: WorkflowTreeNode[];
};

/** a spec as submitted: YAML text plus the artefact files it names */
export type SpecInput = {
  /** the spec as YAML text */
  spec: string;
  /** file name used in error messages; default spec.yaml */
  file?: string;
  /** relative path → base64 content of every artefact file the spec names */
  artefacts?: {
    [key: string]: string;
  };
};

export type ScaleRequest = {
  /** component name */
  component: string;
  /** desired number of instances, within the component's min and max */
  count: number;
};

export type PlanResult = {
  deployment: string;
  create: boolean;
  actions: {
    id: string;
    kind: "create-node" | "delete-node" | "install" | "configure" | "start" | "update" | "stop" | "restart";
    target: string;
    cloud?: string;
    after: string[];
    reason: string;
    /** create-node with a placement policy: the host chosen */
    host?: string;
    /** create-node with a placement policy: why that host */
    placement?: string;
  }[];
  /** components with a run-time count: which count wins after apply, and why */
  counts?: {
    component: string;
    /** the count the spec gives now */
    spec: number;
    /** the count set at run time (scale, a rule, a schedule) */
    runtime: number;
    /** the count after apply */
    count: number;
    wins: "spec" | "runtime";
    reason: string;
  }[];
  /** instances a rolling update restarts in place or replaces, in batch order, with why */
  rollout?: {
    instance: string;
    component: string;
    /** restart: same node, steps run again; replace: a new node, then the old one removed */
    action: "restart" | "replace";
    batch: number;
    batches: number;
    reason: string;
  }[];
  summary: {
    add: number;
    change: number;
    remove: number;
  };
};

export type DeploymentView = {
  name: string;
  state: "applying" | "ready" | "degraded" | "destroying";
  version: number;
  createdAt: string;
  updatedAt: string;
  components: {
    name: string;
    desired: number;
    running: number;
    min: number;
    max: number;
  }[];
  instances: {
    name: string;
    component: string;
    ordinal: number;
    desired: boolean;
    phase: "pending" | "installed" | "configured" | "started" | "running" | "stopping" | "stopped" | "failed";
    /** unreachable: its node does not answer; its consumers' wiring leaves it out until it does */
    health: "unknown" | "healthy" | "unhealthy" | "unreachable";
    node: {
      key: string;
      cloud: string;
      state: "pending" | "creating" | "provisioning" | "running" | "unreachable" | "deleting" | "failed";
      id?: string;
      address?: string;
      /** first boot: the cloud provisions it; it runs but its agent does not answer yet; its agent answers (ready) */
      step?: "booting" | "contextualizing" | "agent-up";
      /** how long booting took, in ms */
      bootMs?: number;
      /** how long contextualizing took (so far, while it lasts), in ms */
      contextualizeMs?: number;
    };
    /** provided port name → host:port */
    endpoints: {
      [key: string]: string;
    };
    lastError?: string;
    createdAt: string;
  }[];
  /** clouds of this deployment that back off or were stopped, and why */
  clouds?: {
    cloud: string;
    /** unusable: calls stopped until the credential or the cloud entry changes */
    health: "backoff" | "unusable";
    reason: string;
    code?: string;
    since: string;
    retryAt?: string;
    /** calls failed fast, without reaching the cloud, since this state began */
    refused: number;
  }[];
  /** the rolling update while it runs, is paused or failed; absent otherwise */
  rollout?: {
    status: "running" | "paused" | "failed";
    version: number;
    /** batches started so far, over every component */
    batch: number;
    /** batches the rollout takes: those started and those its outdated instances still need */
    batches: number;
    /** wanted instances at the new revision */
    updated: number;
    /** instances wanted */
    instances: number;
    /** why it failed, or who paused it */
    reason?: string;
    /** for people: `batch 2/5, 3 of 5 updated, paused (by alice)` */
    line: string;
  };
  /** scale requests of rules and schedules that a component's bounds refused or capped, latest per component, until a scale of it goes through */
  scaling?: {
    component: string;
    /** who asked: rule:<name>, schedule:<name> */
    by: string;
    /** the count asked for */
    wanted: number;
    /** the count set instead when a rule was capped at the bound */
    applied?: number;
    bound: "max" | "min";
    /** the bound's value */
    limit: number;
    /** instances.max, instances.min, rule max or rule min */
    limitOf: string;
    code: "SCALE_OUT_OF_BOUNDS";
    reason: string;
    at: string;
  }[];
};

export type ForgetResult = {
  deployment: string;
  forgotten: true;
  /** nodes that may still exist in their clouds */
  leftovers: {
    /** the node key, also its nubis-key tag */
    key: string;
    cloud: string;
    status: "pending" | "creating" | "provisioning" | "running" | "unreachable" | "deleting" | "failed";
    /** the provider id */
    id?: string;
  }[];
};

export type DeploymentList = {
  deployments: {
    name: string;
    state: "applying" | "ready" | "degraded" | "destroying";
    version: number;
    instances: {
      desired: number;
      running: number;
    };
  }[];
};

export type EndpointList = {
  endpoints: {
    instance: string;
    component: string;
    port: string;
    /** host:port */
    address: string;
  }[];
};

export type LogList = {
  logs: {
    step: "install" | "configure" | "start" | "stop" | "update";
    runId: string;
    state: string;
    exitCode: number | null;
    startedAt: string;
    endedAt?: string;
    output: string;
  }[];
};

export type EventList = {
  events: {
    id: number;
    ts: string;
    deployment?: string;
    kind: string;
    actor: string;
    reason?: string;
    correlationId?: string;
    target?: string;
    outcome?: string;
    data?: {
      [key: string]: unknown;
    };
    /** the tenant whose log (and hash chain) it is in */
    tenant?: string;
    /** sha256 over prevHash and the fields (src/store/event-chain.ts) */
    hash?: string;
    /** the hash of the tenant's previous event */
    prevHash?: string;
  }[];
};

export type Error = {
  error: {
    /** a stable code from the error catalogue */
    code: string;
    message: string;
    retryable: boolean;
    details?: unknown;
  };
};

export type Health = {
  ok: boolean;
};

/** a JSON Schema document */
export type JsonSchema = Record<string, unknown>;

/** samples to ingest; malformed lines are counted and reported, never fatal */
export type MetricPush = {
  /** JSON samples: { name, labels?, v, t? (ms) } */
  samples?: unknown[];
  /** Graphite plaintext lines: `path value [timestamp]`, also `name;tag=v` */
  graphite?: string;
  /** Prometheus text exposition */
  prometheus?: string;
  /** added to every sample */
  labels?: {
    [key: string]: string;
  };
};

export type PushResult = {
  accepted: number;
  malformed: number;
  /** the first malformed lines */
  problems: string[];
};

export type SeriesList = {
  status: "success";
  data: {
    [key: string]: string;
  }[];
};

/** the Prometheus HTTP API query result shape (times in seconds) */
export type QueryResponse = {
  status: "success";
  data: {
    resultType: "vector" | "matrix" | "scalar";
    /** as Prometheus: vector [{metric, value: [t, "v"]}], matrix [{metric, values}], scalar [t, "v"] */
    result: unknown;
  };
};

/** an aggregated or composite metric definition */
export type MetricDefinitionInput = {
  /** the deployment it belongs to */
  deployment?: string;
  /** a query in the PromQL subset; each result element is stored as a series named after the metric */
  expr: string;
  /** a duration such as 500ms, 30s, 2m or 1h */
  interval?: string;
  description?: string;
};

export type MetricDefinitionView = {
  name: string;
  deployment?: string;
  /** spec: from a deployment's spec; api: created at run time */
  source: "spec" | "api";
  expr: string;
  intervalMs: number;
  description?: string;
  lastEvaluation?: string;
  lastError?: string;
};

export type MetricDefinitionList = {
  definitions: {
    name: string;
    deployment?: string;
    /** spec: from a deployment's spec; api: created at run time */
    source: "spec" | "api";
    expr: string;
    intervalMs: number;
    description?: string;
    lastEvaluation?: string;
    lastError?: string;
  }[];
};

/** a scaling rule, as in the spec's `rules` section, plus its deployment */
export type RuleInput = {
  /** the deployment whose component the rule scales */
  deployment: string;
  /** the component the rule scales (and whose instances quantifiers range over) */
  component: string;
  /** exactly one of all, any, atLeast, value, count, and, or, not */
  when: {
    /** a query and one or more bounds its value must satisfy */
    all?: {
      /** a query in the PromQL subset */
      expr: string;
      /** holds when the value is > this */
      above?: number;
      /** holds when the value is < this */
      below?: number;
      /** holds when the value is ≥ this */
      atOrAbove?: number;
      /** holds when the value is ≤ this */
      atOrBelow?: number;
    };
    /** a query and one or more bounds its value must satisfy */
    any?: {
      /** a query in the PromQL subset */
      expr: string;
      /** holds when the value is > this */
      above?: number;
      /** holds when the value is < this */
      below?: number;
      /** holds when the value is ≥ this */
      atOrAbove?: number;
      /** holds when the value is ≤ this */
      atOrBelow?: number;
    };
    /** at least k ready instances satisfy the comparison */
    atLeast?: {
      /** how many ready instances must satisfy the comparison */
      instances: number;
      /** a query in the PromQL subset */
      expr: string;
      /** holds when the value is > this */
      above?: number;
      /** holds when the value is < this */
      below?: number;
      /** holds when the value is ≥ this */
      atOrAbove?: number;
      /** holds when the value is ≤ this */
      atOrBelow?: number;
    };
    /** a query and one or more bounds its value must satisfy */
    value?: {
      /** a query in the PromQL subset */
      expr: string;
      /** holds when the value is > this */
      above?: number;
      /** holds when the value is < this */
      below?: number;
      /** holds when the value is ≥ this */
      atOrAbove?: number;
      /** holds when the value is ≤ this */
      atOrBelow?: number;
    };
    /** a bound on the component's desired instance count */
    count?: {
      /** holds when the desired count is > this */
      above?: number;
      /** holds when the desired count is < this */
      below?: number;
      atOrAbove?: number;
      atOrBelow?: number;
    };
    and?: {
      /** a query and one or more bounds its value must satisfy */
      all?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a query and one or more bounds its value must satisfy */
      any?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** at least k ready instances satisfy the comparison */
      atLeast?: {
        /** how many ready instances must satisfy the comparison */
        instances: number;
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a query and one or more bounds its value must satisfy */
      value?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a bound on the component's desired instance count */
      count?: {
        /** holds when the desired count is > this */
        above?: number;
        /** holds when the desired count is < this */
        below?: number;
        atOrAbove?: number;
        atOrBelow?: number;
      };
      and?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      }[];
      or?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      }[];
      /** exactly one of all, any, atLeast, value, count, and, or, not */
      not?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      };
    }[];
    or?: {
      /** a query and one or more bounds its value must satisfy */
      all?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a query and one or more bounds its value must satisfy */
      any?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** at least k ready instances satisfy the comparison */
      atLeast?: {
        /** how many ready instances must satisfy the comparison */
        instances: number;
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a query and one or more bounds its value must satisfy */
      value?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a bound on the component's desired instance count */
      count?: {
        /** holds when the desired count is > this */
        above?: number;
        /** holds when the desired count is < this */
        below?: number;
        atOrAbove?: number;
        atOrBelow?: number;
      };
      and?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      }[];
      or?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      }[];
      /** exactly one of all, any, atLeast, value, count, and, or, not */
      not?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      };
    }[];
    /** exactly one of all, any, atLeast, value, count, and, or, not */
    not?: {
      /** a query and one or more bounds its value must satisfy */
      all?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a query and one or more bounds its value must satisfy */
      any?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** at least k ready instances satisfy the comparison */
      atLeast?: {
        /** how many ready instances must satisfy the comparison */
        instances: number;
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a query and one or more bounds its value must satisfy */
      value?: {
        /** a query in the PromQL subset */
        expr: string;
        /** holds when the value is > this */
        above?: number;
        /** holds when the value is < this */
        below?: number;
        /** holds when the value is ≥ this */
        atOrAbove?: number;
        /** holds when the value is ≤ this */
        atOrBelow?: number;
      };
      /** a bound on the component's desired instance count */
      count?: {
        /** holds when the desired count is > this */
        above?: number;
        /** holds when the desired count is < this */
        below?: number;
        atOrAbove?: number;
        atOrBelow?: number;
      };
      and?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      }[];
      or?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      }[];
      /** exactly one of all, any, atLeast, value, count, and, or, not */
      not?: {
        /** a query and one or more bounds its value must satisfy */
        all?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        any?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** at least k ready instances satisfy the comparison */
        atLeast?: {
          /** how many ready instances must satisfy the comparison */
          instances: number;
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a query and one or more bounds its value must satisfy */
        value?: {
          /** a query in the PromQL subset */
          expr: string;
          /** holds when the value is > this */
          above?: number;
          /** holds when the value is < this */
          below?: number;
          /** holds when the value is ≥ this */
          atOrAbove?: number;
          /** holds when the value is ≤ this */
          atOrBelow?: number;
        };
        /** a bound on the component's desired instance count */
        count?: {
          /** holds when the desired count is > this */
          above?: number;
          /** holds when the desired count is < this */
          below?: number;
          atOrAbove?: number;
          atOrBelow?: number;
        };
      };
    };
  };
  /** a duration such as 500ms, 30s, 2m or 1h */
  for?: string;
  /** what to do when the condition has held for `for` */
  action: {
    /** add, remove, or set instances */
    scale: "out" | "in" | "to";
    /** out/in: this many instances */
    by?: number;
    /** out/in: this percentage of the current count, rounded up */
    percent?: number;
    /** with percent: at least this many (default 1) */
    minStep?: number;
    /** to: exactly this many */
    count?: number;
    /** never leave fewer than this (within the component's min) */
    min?: number;
    /** never add beyond this (within the component's max) */
    max?: number;
  };
  /** a duration such as 500ms, 30s, 2m or 1h */
  cooldown?: string;
  /** a duration such as 500ms, 30s, 2m or 1h */
  stabilization?: string;
  /** a duration such as 500ms, 30s, 2m or 1h */
  interval?: string;
  enabled?: boolean;
};

export type RuleView = {
  name: string;
  deployment: string;
  /** spec: from a deployment's spec; api: created at run time */
  source: "spec" | "api";
  /** the normalised rule (durations in ms) */
  spec: unknown;
  state: {
    /** true, false, unknown (missing data) or never (not evaluated yet) */
    truth: string;
    holdingSince?: string;
    lastEvaluation?: string;
    missing: string[];
  };
};

export type RuleList = {
  rules: {
    name: string;
    deployment: string;
    /** spec: from a deployment's spec; api: created at run time */
    source: "spec" | "api";
    /** the normalised rule (durations in ms) */
    spec: unknown;
    state: {
      /** true, false, unknown (missing data) or never (not evaluated yet) */
      truth: string;
      holdingSince?: string;
      lastEvaluation?: string;
      missing: string[];
    };
  }[];
};

/** a scheduled scaling policy, as in the spec's `schedules` section, plus its deployment */
export type ScheduleInput = {
  /** the deployment whose component is scaled */
  deployment: string;
  /** the component whose count is set */
  component: string;
  /** the instance count to set */
  count: number;
  /** 5-field cron: minute hour day-of-month month day-of-week */
  cron?: string;
  /** IANA time zone of the cron fields; default UTC */
  timeZone?: string;
  /** a one-off start time (ISO 8601 with offset or Z) */
  at?: string;
  enabled?: boolean;
};

export type ScheduleView = {
  name: string;
  deployment: string;
  /** spec: from a deployment's spec; api: created at run time */
  source: "spec" | "api";
  /** the normalised schedule (at in ms) */
  spec: unknown;
  nextFire?: string;
};

export type ScheduleList = {
  schedules: {
    name: string;
    deployment: string;
    /** spec: from a deployment's spec; api: created at run time */
    source: "spec" | "api";
    /** the normalised schedule (at in ms) */
    spec: unknown;
    nextFire?: string;
  }[];
};

/** a Prometheus text-format scrape target, as in the spec's `scrape` section */
export type ScrapeTargetInput = {
  /** the deployment it belongs to (its samples get a deployment label) */
  deployment?: string;
  /** the Prometheus text-format endpoint, such as http://10.0.0.5:9100/metrics */
  url: string;
  /** a duration such as 500ms, 30s, 2m or 1h */
  interval?: string;
  /** labels added to every scraped sample (besides deployment and instance) */
  labels?: {
    [key: string]: string;
  };
};

export type ScrapeTargetView = {
  name: string;
  deployment?: string;
  /** spec: from a deployment's spec; api: created at run time */
  source: "spec" | "api";
  url: string;
  intervalMs: number;
  labels: {
    [key: string]: string;
  };
  /** the last scrape */
  status?: {
    up: boolean;
    lastScrape?: string;
    lastDurationMs?: number;
    lastError?: string;
    samples: number;
    malformed: number;
  };
};

export type ScrapeTargetList = {
  targets: {
    name: string;
    deployment?: string;
    /** spec: from a deployment's spec; api: created at run time */
    source: "spec" | "api";
    url: string;
    intervalMs: number;
    labels: {
      [key: string]: string;
    };
    /** the last scrape */
    status?: {
      up: boolean;
      lastScrape?: string;
      lastDurationMs?: number;
      lastError?: string;
      samples: number;
      malformed: number;
    };
  }[];
};

/** a cloud: a platform at an endpoint with the credential it uses */
export type CloudInput = {
  platform: "local" | "sim" | "ssh" | "openstack" | "ec2" | "cloudsigma";
  /** driver options: endpoint, region… never secrets */
  options?: {
    [key: string]: unknown;
  };
  /** name of a stored credential */
  credential?: string;
};

export type CloudView = {
  name: string;
  platform: string;
  options: {
    [key: string]: unknown;
  };
  credential?: string;
  /** whether the driver discovers offers (else they are entered by hand) */
  discovery: boolean;
  lastDiscoveredAt?: string;
  lastDiscoveryError?: string;
  counts: {
    locations: number;
    offers: number;
    images: number;
  };
};

export type CloudList = {
  clouds: {
    name: string;
    platform: string;
    options: {
      [key: string]: unknown;
    };
    credential?: string;
    /** whether the driver discovers offers (else they are entered by hand) */
    discovery: boolean;
    lastDiscoveredAt?: string;
    lastDiscoveryError?: string;
    counts: {
      locations: number;
      offers: number;
      images: number;
    };
  }[];
};

export type DiscoveryReport = {
  cloud: string;
  supported: boolean;
  ok: boolean;
  error?: string;
  counts: {
    locations: number;
    offers: number;
    images: number;
  };
};

export type CloudRegistration = {
  cloud: {
    name: string;
    platform: string;
    options: {
      [key: string]: unknown;
    };
    credential?: string;
    /** whether the driver discovers offers (else they are entered by hand) */
    discovery: boolean;
    lastDiscoveredAt?: string;
    lastDiscoveryError?: string;
    counts: {
      locations: number;
      offers: number;
      images: number;
    };
  };
  discovery: {
    cloud: string;
    supported: boolean;
    ok: boolean;
    error?: string;
    counts: {
      locations: number;
      offers: number;
      images: number;
    };
  };
};

export type LocationInput = {
  region?: string;
  zone?: string;
  geography?: string;
};

export type OfferInput = {
  cores: number;
  memoryMiB: number;
  diskGiB?: number;
  pricePerHour?: number;
  locations?: string[];
};

export type ImageInput = {
  name?: string;
  os?: string;
  osVersion?: string;
  locations?: string[];
};

export type Location = {
  id: string;
  region?: string;
  zone?: string;
  /** ISO 3166 country code or a place */
  geography?: string;
  /** manual entries survive discovery refreshes */
  source: "discovered" | "manual";
};

export type Offer = {
  id: string;
  cores: number;
  memoryMiB: number;
  diskGiB?: number;
  pricePerHour?: number;
  /** absent: every location */
  locations?: string[];
  /** manual entries survive discovery refreshes */
  source: "discovered" | "manual";
};

export type Image = {
  id: string;
  name: string;
  /** OS family or distribution, lower case: linux, ubuntu, debian… */
  os?: string;
  osVersion?: string;
  locations?: string[];
  /** manual entries survive discovery refreshes */
  source: "discovered" | "manual";
};

export type LocationList = {
  locations: {
    id: string;
    region?: string;
    zone?: string;
    /** ISO 3166 country code or a place */
    geography?: string;
    /** manual entries survive discovery refreshes */
    source: "discovered" | "manual";
  }[];
};

export type OfferList = {
  offers: {
    id: string;
    cores: number;
    memoryMiB: number;
    diskGiB?: number;
    pricePerHour?: number;
    /** absent: every location */
    locations?: string[];
    /** manual entries survive discovery refreshes */
    source: "discovered" | "manual";
  }[];
};

export type ImageList = {
  images: {
    id: string;
    name: string;
    /** OS family or distribution, lower case: linux, ubuntu, debian… */
    os?: string;
    osVersion?: string;
    locations?: string[];
    /** manual entries survive discovery refreshes */
    source: "discovered" | "manual";
  }[];
};

/** { "fields": { "<name>": "<secret value>", … } }: string values only; stored sealed, never returned */
export type CredentialInput = Record<string, unknown>;

export type CredentialView = {
  name: string;
  /** field names only */
  fields: string[];
  usedBy: string[];
  updatedAt: string;
};

export type CredentialList = {
  credentials: {
    name: string;
    /** field names only */
    fields: string[];
    usedBy: string[];
    updatedAt: string;
  }[];
};

export type Removed = {
  removed: string;
};

export type SlaReport = {
  cloud: string;
  since: string;
  until: string;
  total: {
    op: string;
    calls: number;
    errors: number;
    /** failed with a provider-side error (5xx, unavailable, timeout, throttled) */
    providerErrors: number;
    availability: number;
    p50Ms: number;
    p95Ms: number;
    p99Ms: number;
  };
  ops: {
    op: string;
    calls: number;
    errors: number;
    /** failed with a provider-side error (5xx, unavailable, timeout, throttled) */
    providerErrors: number;
    availability: number;
    p50Ms: number;
    p95Ms: number;
    p99Ms: number;
  }[];
  codes: {
    code: string;
    count: number;
  }[];
};

export type SlaOp = {
  op: string;
  calls: number;
  errors: number;
  /** failed with a provider-side error (5xx, unavailable, timeout, throttled) */
  providerErrors: number;
  availability: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
};

/** admin | operator | viewer in the tenant */
export type Role = "viewer" | "operator" | "admin";

/** a token to mint (role default operator) */
export type TokenInput = {
  /** the token's name; its caller acts as user:<name> */
  name: string;
  /** the tenant whose registries (clouds, credentials…) the token sees */
  tenant: string;
  /** admin | operator | viewer in the tenant */
  role?: "viewer" | "operator" | "admin";
};

export type TokenCreated = {
  name: string;
  tenant: string;
  /** admin | operator | viewer in the tenant */
  role: "viewer" | "operator" | "admin";
  /** shown this once; only its hash is stored */
  token: string;
};

/** a monitor of a component instance, run by its node's agent (MonitorSpec without instance) */
export type MonitorInput = {
  /** when given, equals the id in the path */
  id?: string;
  kind: "cpu" | "memory" | "disk-io" | "disk-free" | "network" | "tcp-latency" | "mount";
  /** how often it measures */
  intervalMs: number;
  /** default: instance for cpu, memory and disk-io without a target (the instance's process tree or cgroup), else node */
  scope?: "instance" | "node";
  /** tcp-latency: host:port; mount: path; disk-io: device; disk-free: mount point; network: interface */
  target?: string;
  /** tcp-latency: connects per reading */
  tries?: number;
  /** tcp-latency, mount: per try / per read */
  timeoutMs?: number;
};

export type MonitorView = {
  id: string;
  /** instance: its process tree (or cgroup); node: the whole node */
  scope: "instance" | "node";
  /** the monitor as the node agent keeps it */
  spec: {
    id: string;
    kind: string;
    intervalMs: number;
    instance?: string;
    target?: string;
    tries?: number;
    timeoutMs?: number;
  };
  lastRun?: string;
  lastSamples: number;
  lastError?: string;
  /** how it measures (e.g. "measured by process-tree") or why a probe failed */
  info?: string;
  runs: number;
};

export type MonitorList = {
  node: string;
  monitors: {
    id: string;
    /** instance: its process tree (or cgroup); node: the whole node */
    scope: "instance" | "node";
    /** the monitor as the node agent keeps it */
    spec: {
      id: string;
      kind: string;
      intervalMs: number;
      instance?: string;
      target?: string;
      tries?: number;
      timeoutMs?: number;
    };
    lastRun?: string;
    lastSamples: number;
    lastError?: string;
    /** how it measures (e.g. "measured by process-tree") or why a probe failed */
    info?: string;
    runs: number;
  }[];
};

export type RolloutView = {
  deployment: string;
  status: "none" | "running" | "paused" | "completed" | "failed";
  version: number;
  reason?: string;
  startedAt?: string;
  endedAt?: string;
  components: {
    name: string;
    /** batches started */
    batch: number;
    /** wanted instances not at the revision yet */
    outdated: number;
    instances: number;
    maxUnavailable: number;
    maxSurge: number;
    healthGateTimeoutMs: number;
    /** a batch waits for its health gate */
    gating: boolean;
  }[];
};

export type RolloutLine = {
  instance: string;
  component: string;
  /** restart: same node, steps run again; replace: a new node, then the old one removed */
  action: "restart" | "replace";
  batch: number;
  batches: number;
  reason: string;
};

export type AccessView = {
  deployment: string;
  state: "applying" | "ready" | "degraded" | "destroying";
  /** when it first became ready */
  readyAt?: string;
  endpoints: {
    instance: string;
    component: string;
    port: string;
    /** host:port */
    address: string;
  }[];
  credentials: {
    name: string;
    component: string;
    /** the variable the component gets it in */
    env: string;
    /** only in the first read after the deployment became ready */
    value?: string;
    /** when the value was shown, on later reads */
    shownAt?: string;
    note: string;
  }[];
};

export type RecoveryView = {
  deployment: string;
  instances: {
    instance: string;
    component: string;
    status: "watching" | "recovering" | "gave-up";
    ladder: ("restart" | "reboot" | "recreate" | "alert")[];
    step?: "restart" | "reboot" | "recreate" | "alert";
    /** the place of `step` in the ladder, from 1 */
    rung?: number;
    failure?: "component" | "unreachable" | "gone";
    since?: string;
    reason?: string;
    /** failures counted in the window now */
    failures: number;
    failuresToDetect: number;
    windowMs: number;
    limits: {
      step: "restart" | "reboot" | "recreate";
      taken: number;
      max: number;
      withinMs: number;
    }[];
    gaveUp?: {
      at: string;
      reason: string;
    };
    /** for people, in one line */
    line: string;
  }[];
};

/** take a backup now */
export type BackupRunRequest = {
  /** the backup policy; may be left out when the deployment has one */
  policy?: string;
  /** only this instance; default every running instance of the policy's component */
  instance?: string;
  /** why, for the audit log */
  reason?: string;
  /** false: answer 202 once it has started; default true: answer when it has ended */
  wait?: boolean;
};

/** restore a good backup */
export type RestoreRequest = {
  /** restore onto this instance (a new node); default the backup's own instance, in place */
  instance?: string;
  /** why, for the audit log */
  reason?: string;
  /** false: answer 202 once it has started; default true: answer when it has ended */
  wait?: boolean;
};

/** restore a backup onto a scratch node, check it, remove the node */
export type DrillRequest = {
  /** the backup policy; may be left out when the deployment has one */
  policy?: string;
  /** the backup to drill; default the newest good one of the policy */
  backup?: string;
  /** why, for the audit log */
  reason?: string;
  /** false: answer 202 once it has started; default true: answer when it has ended */
  wait?: boolean;
};

export type BackupRunView = {
  id: string;
  kind: "backup" | "restore" | "drill";
  deployment: string;
  policy: string;
  component: string;
  instance: string;
  state: "running" | "succeeded" | "failed" | "pruned";
  /** schedule, manual, destroy or recovery */
  trigger: string;
  /** snapshot or archive */
  what: string;
  store: string;
  key?: string;
  sizeBytes?: number;
  sha256?: string;
  /** a backup: a restore drill of it passed (only verified backups are used by recovery) */
  verified: boolean;
  verifiedAt?: string;
  /** a restore or drill: the backup it used */
  backup?: string;
  /** why it failed */
  detail?: string;
  actor: string;
  reason: string;
  startedAt: string;
  endedAt?: string;
};

export type BackupRunList = {
  runs: {
    id: string;
    kind: "backup" | "restore" | "drill";
    deployment: string;
    policy: string;
    component: string;
    instance: string;
    state: "running" | "succeeded" | "failed" | "pruned";
    /** schedule, manual, destroy or recovery */
    trigger: string;
    /** snapshot or archive */
    what: string;
    store: string;
    key?: string;
    sizeBytes?: number;
    sha256?: string;
    /** a backup: a restore drill of it passed (only verified backups are used by recovery) */
    verified: boolean;
    verifiedAt?: string;
    /** a restore or drill: the backup it used */
    backup?: string;
    /** why it failed */
    detail?: string;
    actor: string;
    reason: string;
    startedAt: string;
    endedAt?: string;
  }[];
};

export type BackupPolicyList = {
  policies: {
    name: string;
    component: string;
    schedule?: {
      cron: string;
      timeZone: string;
      next?: string;
    };
    what: string;
    /** where copies go, without secrets */
    store: string;
    retention: {
      last: number;
      daily: number;
      weekly: number;
      monthly: number;
    };
    drill?: {
      cron: string;
      timeZone: string;
      next?: string;
    };
    onDestroy: boolean;
    lastGood?: string;
    lastVerified?: string;
  }[];
};

/** a workflow to load */
export type WorkflowLoad = {
  /** the definition: ecFlow .def text, or the YAML spec */
  text: string;
  /** its file name, for error locations; `.yaml`/`.yml` is read as YAML, anything else as .def */
  file: string;
  /** script (.ecf) and include (.h) files by path relative to ECF_FILES, ECF_INCLUDE or ECF_HOME, as `nubis workflow import` finds them */
  files?: {
    [key: string]: string;
  };
  /** replace a loaded workflow of the same name (its running tries are killed) */
  replace?: boolean;
  /** server-level variables below the definition's own (ECF_HOME, …) */
  variables?: {
    [key: string]: string;
  };
};

export type WorkflowSummary = {
  name: string;
  status: "loaded" | "begun";
  file: string;
  format: "def" | "yaml";
  version: number;
  /** the most significant state of its suites */
  state: string;
  progress: {
    tasks: number;
    complete: number;
    aborted: number;
    queued: number;
    /** submitted or active */
    running: number;
    /** paths of submitted and active tasks (at most 50) */
    active: string[];
  };
  loadedAt: string;
};

export type WorkflowList = {
  workflows: {
    name: string;
    status: "loaded" | "begun";
    file: string;
    format: "def" | "yaml";
    version: number;
    /** the most significant state of its suites */
    state: string;
    progress: {
      tasks: number;
      complete: number;
      aborted: number;
      queued: number;
      /** submitted or active */
      running: number;
      /** paths of submitted and active tasks (at most 50) */
      active: string[];
    };
    loadedAt: string;
  }[];
};

export type WorkflowStatus = {
  name: string;
  status: "loaded" | "begun";
  file: string;
  format: "def" | "yaml";
  version: number;
  /** the most significant state of its suites */
  state: string;
  progress: {
    tasks: number;
    complete: number;
    aborted: number;
    queued: number;
    /** submitted or active */
    running: number;
    /** paths of submitted and active tasks (at most 50) */
    active: string[];
  };
  loadedAt: string;
  tree: WorkflowTreeNode;
};

export type WorkflowWhy = {
  path: string;
  why: {
    path: string;
    kind: string;
    detail: string;
  }[];
};

/** the node a command is about, and its options */
export type WorkflowCommand = {
  /** absolute node path, /suite/family/task */
  path?: string;
  /** requeue: every node below (default) or aborted ones only */
  mode?: "all" | "aborted";
  /** force: the state to set (default complete) */
  state?: "complete" | "aborted" | "queued";
  /** alter: the variable */
  variable?: string;
  /** alter: its new value */
  value?: string;
};

export type WorkflowCommandResult = {
  ok: boolean;
  zombie?: boolean;
  why?: string;
  /** a child command's answer: the step of `queue active`, the count of `queue no_of_aborted` */
  value?: string;
};

export type WorkflowLog = {
  path: string;
  tryNo: number;
  tries: number;
  text: string;
};

export type WorkflowExport = {
  name: string;
  file: string;
  /** the .def text */
  text: string;
};

/** a child command of a running job, as `nubis child` sends it */
export type WorkflowChildRequest = {
  /** the task (ECF_NAME) */
  path: string;
  /** the try's one-time password (ECF_PASS) */
  password: string;
  /** ECF_TRYNO */
  tryNo: number;
  /** ECF_RID */
  rid?: string;
  command: {
    verb: "init";
    rid: string;
    add?: {
      [key: string]: string;
    };
  } | {
    verb: "complete";
    remove?: string[];
  } | {
    verb: "abort";
    reason: string;
  } | {
    verb: "event";
    name: string;
    value: boolean;
  } | {
    verb: "meter";
    name: string;
    value: number;
  } | {
    verb: "label";
    name: string;
    value: string;
  } | {
    verb: "wait";
    expression: string;
  } | {
    verb: "queue";
    name: string;
    action: "active" | "complete" | "aborted" | "no_of_aborted" | "reset";
    step?: string;
    path?: string;
  };
};

/** how to run a custom operation */
export type OperationRunRequest = {
  /** instance names such as app-2; default every instance of the component (those not running are skipped) */
  instances?: string[];
  /** parameter values by name; checked against the declaration (a string is read as its parameter's type, as the CLI sends it) */
  params?: {
    [key: string]: string | number | boolean;
  };
  /** most instances running it at once; default all */
  parallel?: number;
  /** why, for the audit log */
  reason?: string;
  /** false: answer 202 once it has started; default true: answer when every instance has ended */
  wait?: boolean;
};

export type OperationRunView = {
  id: string;
  deployment: string;
  component: string;
  operation: string;
  /** the values the handler got as NUBIS_PARAM_<NAME>, defaults filled in */
  params: {
    [key: string]: string | number | boolean;
  };
  actor: string;
  reason: string;
  /** succeeded: every instance did; failed: none did; partial: some did */
  state: "running" | "succeeded" | "failed" | "partial" | "interrupted";
  createdAt: string;
  endedAt?: string;
  instances: {
    instance: string;
    state: "pending" | "running" | "succeeded" | "failed" | "timed-out" | "skipped" | "interrupted";
    exitCode: number | null;
    /** combined stdout and stderr, its last 64 KiB; secrets shown as *** */
    output: string;
    /** why it was skipped, or what failed besides the exit code */
    detail?: string;
    startedAt?: string;
    endedAt?: string;
  }[];
};

export type OperationRunList = {
  runs: {
    id: string;
    deployment: string;
    component: string;
    operation: string;
    /** the values the handler got as NUBIS_PARAM_<NAME>, defaults filled in */
    params: {
      [key: string]: string | number | boolean;
    };
    actor: string;
    reason: string;
    /** succeeded: every instance did; failed: none did; partial: some did */
    state: "running" | "succeeded" | "failed" | "partial" | "interrupted";
    createdAt: string;
    endedAt?: string;
    instances: {
      instance: string;
      state: "pending" | "running" | "succeeded" | "failed" | "timed-out" | "skipped" | "interrupted";
      exitCode: number | null;
      /** combined stdout and stderr, its last 64 KiB; secrets shown as *** */
      output: string;
      /** why it was skipped, or what failed besides the exit code */
      detail?: string;
      startedAt?: string;
      endedAt?: string;
    }[];
  }[];
};

export type AlertView = {
  id: string;
  rule: string;
  subject: string;
  deployment?: string;
  state: "open" | "acked" | "resolved";
  severity: string;
  title: string;
  /** what broke */
  what: string;
  /** the failure kind (a runbook section) */
  kind: string;
  explanation: {
    meaning: string;
    whatToDo: string;
    runbook: string;
    runbookUrl: string;
    code?: string;
    httpStatus?: number;
    providerCode?: string;
  };
  /** how often the rule fired for this subject while open */
  count: number;
  openedAt: string;
  lastSeenAt: string;
  notifiedAt?: string;
  resolvedAt?: string;
  resolution?: string;
  ackedAt?: string;
  ackedBy?: string;
  event?: {
    id: number;
    kind: string;
    target?: string;
  };
  deliveries?: {
    channel: string;
    message: string;
    state: string;
    attempts: number;
    lastError?: string;
  }[];
};

export type AlertList = {
  alerts: {
    id: string;
    rule: string;
    subject: string;
    deployment?: string;
    state: "open" | "acked" | "resolved";
    severity: string;
    title: string;
    /** what broke */
    what: string;
    /** the failure kind (a runbook section) */
    kind: string;
    explanation: {
      meaning: string;
      whatToDo: string;
      runbook: string;
      runbookUrl: string;
      code?: string;
      httpStatus?: number;
      providerCode?: string;
    };
    /** how often the rule fired for this subject while open */
    count: number;
    openedAt: string;
    lastSeenAt: string;
    notifiedAt?: string;
    resolvedAt?: string;
    resolution?: string;
    ackedAt?: string;
    ackedBy?: string;
    event?: {
      id: number;
      kind: string;
      target?: string;
    };
    deliveries?: {
      channel: string;
      message: string;
      state: string;
      attempts: number;
      lastError?: string;
    }[];
  }[];
};

/** an alert rule: when it fires an alert opens (one per subject), notifies its channels, and resolves when the condition clears */
export type AlertRuleInput = {
  /** what opens the alert: events (exactly one of events and metric), or a metric condition */
  on?: {
    /** the event types that open (or repeat) the alert */
    events?: string[];
    /** fields the event must have: `outcome`, `target`, `data.code`…; a list matches any of its values, a string ending in * a prefix */
    where?: {
      [key: string]: (string | number | boolean) | ((string | number | boolean)[]);
    };
    /** event types that resolve an open alert of the same subject (such as backup.succeeded) */
    resolvedBy?: string[];
    /** fields a resolving event must have (as in where) */
    resolveWhere?: {
      [key: string]: (string | number | boolean) | ((string | number | boolean)[]);
    };
    /** the event fields that tell alerts of one rule apart, joined by + (such as target+data.policy); default target (else the deployment) */
    subject?: string;
    /** a metric condition: firing once it has held for `for` (default 0s), resolved when the value is back inside; evaluated every interval (default 30s) */
    metric?: {
      /** a query in the PromQL subset; each result element is one subject */
      expr: string;
      /** firing while the value is > this */
      above?: number;
      /** firing while the value is < this */
      below?: number;
      atOrAbove?: number;
      atOrBelow?: number;
      /** a duration such as 500ms, 30s, 2m or 1h */
      for?: string;
      /** a duration such as 500ms, 30s, 2m or 1h */
      interval?: string;
    };
  };
  /** default warning (built-in rules: critical) */
  severity?: "critical" | "warning" | "info";
  /** names of channels to notify; default: the event log and every channel marked default */
  channels?: string[];
  /** no repeat notification of an open alert within this; default 1h */
  quiet?: string;
  /** the title of the alert; default from the rule and its event */
  summary?: string;
  enabled?: boolean;
};

export type AlertRuleView = {
  name: string;
  source: "builtin" | "api" | "spec";
  deployment?: string;
  /** the rule, normalised (durations in ms) */
  rule: unknown;
};

export type AlertRuleList = {
  rules: {
    name: string;
    source: "builtin" | "api" | "spec";
    deployment?: string;
    /** the rule, normalised (durations in ms) */
    rule: unknown;
  }[];
};

/** an alert channel, as in the spec's alerts.channels, with its secret inline or by credential */
export type AlertChannelInput = {
  /** webhook (JSON, HMAC-signed), smtp (mail) or log (the event log) */
  kind: "webhook" | "smtp" | "log";
  /** rules without `channels` (and the built-in rules) notify it */
  default?: boolean;
  /** webhook: where the JSON is POSTed */
  url?: string;
  /** a stored credential (`nubis credentials set`) holding `secret` (webhook signing key) or `password` (SMTP) */
  credential?: string;
  /** smtp: the mail server */
  host?: string;
  /** smtp: default 25 (465 with tls) */
  port?: number;
  /** smtp: none, starttls (upgrade when offered; default) or tls (implicit) */
  tls?: "none" | "starttls" | "tls";
  /** smtp: the login, with the credential's password */
  user?: string;
  /** smtp: the sender address */
  from?: string;
  /** smtp: the recipients */
  to?: string[];
  /** tries before a delivery is given up; default 5 */
  attempts?: number;
  /** a duration such as 500ms, 30s, 2m or 1h */
  timeout?: string;
  /** the webhook signing key or SMTP password; sealed at rest, never shown again */
  secret?: string;
};

export type AlertChannelView = {
  name: string;
  source: "api" | "spec";
  deployment?: string;
  kind: string;
  default: boolean;
  /** how the secret is kept; it is never shown */
  secret: "sealed" | "credential" | "none";
  url?: string;
  host?: string;
  port?: number;
  to?: string[];
  credential?: string;
};

export type AlertChannelList = {
  channels: {
    name: string;
    source: "api" | "spec";
    deployment?: string;
    kind: string;
    default: boolean;
    /** how the secret is kept; it is never shown */
    secret: "sealed" | "credential" | "none";
    url?: string;
    host?: string;
    port?: number;
    to?: string[];
    credential?: string;
  }[];
};

export type AlertTestInput = {
  /** the channel (or log) */
  channel: string;
  /** whose spec channels to look in too */
  deployment?: string;
};

export type AlertTestResult = {
  channel: string;
  delivered: boolean;
  error?: string;
};

export type ImageEndorsement = {
  /** the image metadata (ImageMetadata), checked field by field */
  metadata: Record<string, unknown>;
  /** base64 ed25519 signature by the endorser over the canonical metadata */
  signature: string;
};

export type ImageEntryView = {
  id: string;
  /** what the endorser signs: ed25519 over the UTF-8 of this object as JSON with sorted keys and no whitespace */
  metadata: {
    id: string;
    image: string;
    os: string;
    osVersion?: string;
    sizeBytes?: number;
    sha256: string;
    endorser: string;
    created: string;
    expires: string;
  };
  signature: string;
  status: "valid" | "expired" | "revoked" | "unknown-endorser-key" | "bad-signature";
  addedAt: string;
  addedBy: string;
  revokedAt?: string;
  revokedBy?: string;
};

export type ImageEntryList = {
  entries: {
    id: string;
    /** what the endorser signs: ed25519 over the UTF-8 of this object as JSON with sorted keys and no whitespace */
    metadata: {
      id: string;
      image: string;
      os: string;
      osVersion?: string;
      sizeBytes?: number;
      sha256: string;
      endorser: string;
      created: string;
      expires: string;
    };
    signature: string;
    status: "valid" | "expired" | "revoked" | "unknown-endorser-key" | "bad-signature";
    addedAt: string;
    addedBy: string;
    revokedAt?: string;
    revokedBy?: string;
  }[];
};

export type EndorserInput = {
  /** ed25519 public key, PEM (SPKI) */
  publicKey: string;
};

export type EndorserView = {
  name: string;
  publicKey: string;
  fingerprint: string;
  createdAt: string;
  createdBy: string;
};

export type EndorserList = {
  endorsers: {
    name: string;
    publicKey: string;
    fingerprint: string;
    createdAt: string;
    createdBy: string;
  }[];
};

export type ImagePolicyInput = {
  /** absent: every cloud of the tenant */
  cloud?: string;
  mode: "endorsed" | "open";
};

export type ImagePolicyView = {
  /** a cloud, or * for every cloud */
  cloud: string;
  mode: "endorsed" | "open";
  updatedAt: string;
  updatedBy: string;
};

export type ImagePolicyList = {
  policies: {
    /** a cloud, or * for every cloud */
    cloud: string;
    mode: "endorsed" | "open";
    updatedAt: string;
    updatedBy: string;
  }[];
  checks: ("unendorsed" | "revoked" | "unknown-endorser-key" | "bad-signature" | "expired" | "checksum-unknown" | "checksum-mismatch")[];
};

/** limits to set; null removes one; memory in MiB */
export type QuotaInput = {
  nodes?: number | null;
  cores?: number | null;
  memory?: number | null;
  deployments?: number | null;
};

export type QuotaView = {
  tenant: string;
  limits: {
    nodes: number | null;
    cores: number | null;
    memory: number | null;
    deployments: number | null;
  };
  used: {
    nodes: number;
    cores: number;
    memory: number;
    deployments: number;
  };
  deployments: {
    name: string;
    nodes: number;
    cores: number;
    memory: number;
  }[];
};

export type AddressPoolInput = {
  /** IPv4 CIDR ranges (10.0.0.0/28) or address ranges (10.0.1.5-10.0.1.9) */
  ranges: string[];
  /** how long a gone node's address is held for its deployment; default 3 600 000 */
  holdMs?: number;
  floatingNetwork?: string;
};

export type AddressPoolView = {
  name: string;
  ranges: string[];
  size: number;
  holdMs: number;
  floatingNetwork?: string;
  leased: number;
  held: number;
  free: number;
};

export type AddressPoolList = {
  pools: {
    name: string;
    ranges: string[];
    size: number;
    holdMs: number;
    floatingNetwork?: string;
    leased: number;
    held: number;
    free: number;
  }[];
};

export type AddressLeaseView = {
  pool: string;
  address: string;
  deployment: string;
  node: string;
  state: "leased" | "held";
  leasedAt: string;
  heldUntil?: string;
};

export type AddressLeaseList = {
  leases: {
    pool: string;
    address: string;
    deployment: string;
    node: string;
    state: "leased" | "held";
    leasedAt: string;
    heldUntil?: string;
  }[];
};

export type AddressHoldInput = {
  address: string;
  forMs?: number;
};

export type AddressReleaseInput = {
  address: string;
};

export type LoginInput = {
  user: string;
  password: string;
  /** the tenant to act in; default the user's only one, else default, else the first by name */
  tenant?: string;
};

export type Session = {
  /** the user; for a bearer token its user or its name */
  user: string;
  tenant: string;
  /** admin | operator | viewer in the tenant */
  role: "viewer" | "operator" | "admin";
  /** session callers: send it as X-CSRF-Token on POST, PUT, PATCH and DELETE */
  csrfToken?: string;
  via?: "session" | "token";
  /** the bearer token's name */
  token?: string;
  /** every tenant the user has a role in (log in again with `tenant` to switch) */
  tenants?: {
    tenant: string;
    /** admin | operator | viewer in the tenant */
    role: "viewer" | "operator" | "admin";
  }[];
};

export type PasswordChange = {
  current: string;
  password: string;
};

/** a personal token in the caller's tenant; its role (default the user's) never exceeds the user's */
export type PersonalTokenInput = {
  /** the token's name (unique in the tenant) */
  name: string;
  /** admin | operator | viewer in the tenant */
  role?: "viewer" | "operator" | "admin";
};

export type TokenList = {
  tokens: {
    name: string;
    tenant: string;
    /** admin | operator | viewer in the tenant */
    role: "viewer" | "operator" | "admin";
    user?: string;
    createdAt: string;
  }[];
};

export type UserInput = {
  /** at least 8 characters */
  password: string;
  /** tenant → role, added to (or changing) the user's roles */
  roles?: {
    [key: string]: "viewer" | "operator" | "admin";
  };
};

export type RoleInput = {
  /** admin | operator | viewer in the tenant */
  role: "viewer" | "operator" | "admin";
};

export type UserView = {
  name: string;
  roles: {
    tenant: string;
    /** admin | operator | viewer in the tenant */
    role: "viewer" | "operator" | "admin";
  }[];
  createdAt: string;
  updatedAt: string;
};

export type UserList = {
  users: {
    name: string;
    roles: {
      tenant: string;
      /** admin | operator | viewer in the tenant */
      role: "viewer" | "operator" | "admin";
    }[];
    createdAt: string;
    updatedAt: string;
  }[];
};

export type CatalogTemplateInput = {
  description?: string;
  /** the application spec (YAML) with ${params.x} references */
  spec: string;
  /** JSON Schema of the parameters: type object, properties of type string, integer, number or boolean (README: the catalog) */
  parameters: {
    [key: string]: unknown;
  };
  /** offered to these tenants only; absent: every tenant */
  tenants?: string[];
  /** relative path → base64 content, as in an apply */
  artefacts?: {
    [key: string]: string;
  };
};

export type CatalogTemplate = {
  name: string;
  version: number;
  description: string;
  /** a JSON Schema */
  parameters: Record<string, unknown>;
  /** the installation administrator only */
  spec?: string;
  /** offered to (null: every tenant); the administrator only */
  tenants?: string[] | null;
  publishedBy?: string;
  publishedAt: string;
};

export type CatalogTemplateList = {
  templates: {
    name: string;
    version: number;
    description: string;
    /** a JSON Schema */
    parameters: Record<string, unknown>;
    /** the installation administrator only */
    spec?: string;
    /** offered to (null: every tenant); the administrator only */
    tenants?: string[] | null;
    publishedBy?: string;
    publishedAt: string;
  }[];
};

export type CatalogOrderInput = {
  /** the new deployment's name in the caller's tenant */
  deployment: string;
  /** parameter values, checked against the template's schema */
  params?: {
    [key: string]: unknown;
  };
};

export type CatalogOrder = {
  id: string;
  template: string;
  version: number;
  deployment: string;
  /** write-only (secret) values as "***" */
  params: {
    [key: string]: string | number | boolean;
  };
  actor: string;
  createdAt: string;
};

export type CatalogOrderResult = {
  order: {
    id: string;
    template: string;
    version: number;
    deployment: string;
    /** write-only (secret) values as "***" */
    params: {
      [key: string]: string | number | boolean;
    };
    actor: string;
    createdAt: string;
  };
  deployment: DeploymentView;
};

export type CatalogOrderList = {
  orders: {
    id: string;
    template: string;
    version: number;
    deployment: string;
    /** write-only (secret) values as "***" */
    params: {
      [key: string]: string | number | boolean;
    };
    actor: string;
    createdAt: string;
  }[];
};

export type DeploymentSpec = {
  name: string;
  version: number;
  file: string;
  /** the spec text as applied; secret values are shown as *** */
  text: string;
  topology: {
    clouds: {
      name: string;
      platform: string;
    }[];
    nodeTemplates: {
      name: string;
      /** absent: placed by requirements on a registered cloud */
      cloud?: string;
    }[];
    components: {
      name: string;
      nodeTemplate: string;
      cloud?: string;
      /** provided port names */
      provides: string[];
      /** channels from this component to the ones it requires */
      requires: {
        /** the required port on this component */
        name: string;
        /** the providing component */
        component: string;
        port: string;
        optional: boolean;
      }[];
      /** custom operations it declares */
      operations: string[];
    }[];
  };
};

export type ChainReportList = {
  ok: boolean;
  chains: {
    tenant: string;
    /** chained events checked */
    checked: number;
    /** events written before the chain existed (not verified) */
    unchained: number;
    /** hash of the newest event: keep a copy elsewhere to detect a rewrite of the whole tail */
    head?: string;
    /** id of the last event retention pruned; the first kept event links to its hash */
    anchoredAfter?: number;
    broken?: {
      id: number;
      reason: string;
    };
  }[];
};

export type LeakList = {
  leaks: {
    cloud: string;
    kind: string;
    id: string;
    deployment?: string;
    key?: string;
    /** open | deleted | gone */
    status: string;
    reason: string;
    firstSeen: string;
    lastSeen: string;
    endedAt?: string;
    node?: string;
    pricePerHour?: number;
    deleteAt?: string;
  }[];
};

export type LeakScan = {
  leaks: {
    cloud: string;
    kind: string;
    id: string;
    deployment?: string;
    key?: string;
    /** open | deleted | gone */
    status: string;
    reason: string;
    firstSeen: string;
    lastSeen: string;
    endedAt?: string;
    node?: string;
    pricePerHour?: number;
    deleteAt?: string;
  }[];
  report?: {
    clouds: number;
    resources: number;
    open: number;
    found: number;
    ended: number;
    deleted: number;
    failed: {
      cloud: string;
      error: string;
    }[];
  };
};

export type LeakPolicyInput = {
  /** delete a leak this long after it was first seen; null or absent: report only */
  deleteAfter?: string | number | null;
  /** Nubis owns the whole project: untagged resources in it are judged too */
  owned?: boolean;
};

export type LeakPolicyView = {
  cloud: string;
  deleteAfterMs?: number;
  owned: boolean;
};

export type LeakPolicyList = {
  policies: {
    cloud: string;
    deleteAfterMs?: number;
    owned: boolean;
  }[];
};

export type CostReport = {
  from: string;
  to: string;
  by: "day" | "deployment";
  unit: "micro";
  /** integer micro-units of the clouds' currency */
  totalMicros: number;
  total: string;
  rows: {
    key: string;
    micros: number;
    ms: number;
  }[];
  /** node running time of offers without a known price */
  unpricedMs: number;
};

export type BudgetInput = {
  /** per calendar month (UTC), in the clouds' currency */
  amount: number;
  /** percentages that warn; default [80, 100] */
  thresholds?: number[];
  /** refuse new nodes while exceeded (running ones keep running) */
  hardStop?: boolean;
};

export type BudgetView = {
  amount: number;
  thresholds: number[];
  hardStop: boolean;
  deployment?: string;
  month: string;
  spentMicros: number;
  spent: string;
  percent: number;
  exceeded: boolean;
};

export type BudgetList = {
  budgets: {
    amount: number;
    thresholds: number[];
    hardStop: boolean;
    deployment?: string;
    month: string;
    spentMicros: number;
    spent: string;
    percent: number;
    exceeded: boolean;
  }[];
};

/** Every operation: its path and query parameters, JSON body and success response. */
export interface Operations {
  /** liveness check */
  health: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: Health;
  };
  /** this OpenAPI 3.1 document */
  openapi: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: JsonSchema;
  };
  /** the JSON Schema of application specs */
  specSchema: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: JsonSchema;
  };
  /** show the actions applying a spec would take */
  plan: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: SpecInput;
    response: PlanResult;
  };
  /** list deployments */
  listDeployments: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: DeploymentList;
  };
  /** create or change a deployment from a spec */
  apply: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: SpecInput;
    response: DeploymentView;
  };
  /** a deployment with its components and instances */
  getDeployment: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: DeploymentView;
  };
  /** start tearing a deployment down */
  destroy: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: DeploymentView;
  };
  /** drop a deployment being destroyed from the store without waiting for its clouds; lists what may be left there */
  forget: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: ForgetResult;
  };
  /** the provided ports of every instance */
  endpoints: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: EndpointList;
  };
  /** set the instance count of a component */
  scale: {
    params: { name: string };
    query: Record<string, never>;
    body: ScaleRequest;
    response: DeploymentView;
  };
  /** lifecycle step logs of an instance, oldest first */
  logs: {
    params: { name: string; instance: string };
    query: { step?: "install" | "configure" | "start" | "stop" | "update" };
    body: undefined;
    response: LogList;
  };
  /** audit events, oldest first: the newest `limit`, or with `after` the first `limit` after it */
  listEvents: {
    params: Record<string, never>;
    query: { deployment?: string; kind?: string; after?: number; correlationId?: string; target?: string; limit?: number; actor?: string; tenant?: string; since?: string; until?: string };
    body: undefined;
    response: EventList;
  };
  /** audit events as Server-Sent Events: stored ones after the cursor, then live ones */
  streamEvents: {
    params: Record<string, never>;
    query: { deployment?: string; kind?: string; after?: number };
    body: undefined;
    response: string;
  };
  /** the control plane's own health in Prometheus text format (no token needed) */
  selfMetrics: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: string;
  };
  /** series (label sets) matching a selector */
  listSeries: {
    params: Record<string, never>;
    query: { match?: string; limit?: number };
    body: undefined;
    response: SeriesList;
  };
  /** evaluate a query (PromQL subset): instant at `time`, or a range with `start`, `end` and `step` */
  queryMetrics: {
    params: Record<string, never>;
    query: { query: string; time?: string; start?: string; end?: string; step?: string };
    body: undefined;
    response: QueryResponse;
  };
  /** ingest samples (JSON, Graphite plaintext or Prometheus text inside JSON) */
  pushMetrics: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: MetricPush;
    response: PushResult;
  };
  /** the monitors measuring an instance (and its node), with their last readings */
  listMonitors: {
    params: { name: string; instance: string };
    query: Record<string, never>;
    body: undefined;
    response: MonitorList;
  };
  /** add or change a monitor of an instance at run time (each has its own interval) */
  putMonitor: {
    params: { name: string; instance: string; id: string };
    query: Record<string, never>;
    body: MonitorInput;
    response: MonitorView;
  };
  /** remove a monitor of an instance */
  deleteMonitor: {
    params: { name: string; instance: string; id: string };
    query: Record<string, never>;
    body: undefined;
    response: Health;
  };
  /** list definitions (spec and run time) */
  listMetricDefinitions: {
    params: Record<string, never>;
    query: { deployment?: string };
    body: undefined;
    response: MetricDefinitionList;
  };
  /** one metric definition */
  getMetricDefinition: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: MetricDefinitionView;
  };
  /** add or change a metric definition at run time (no redeploy) */
  putMetricDefinition: {
    params: { name: string };
    query: Record<string, never>;
    body: MetricDefinitionInput;
    response: MetricDefinitionView;
  };
  /** remove a run-time metric definition */
  deleteMetricDefinition: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: Health;
  };
  /** list targets (spec and run time) */
  listScrapeTargets: {
    params: Record<string, never>;
    query: { deployment?: string };
    body: undefined;
    response: ScrapeTargetList;
  };
  /** one scrape target */
  getScrapeTarget: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: ScrapeTargetView;
  };
  /** add or change a scrape target at run time (no redeploy) */
  putScrapeTarget: {
    params: { name: string };
    query: Record<string, never>;
    body: ScrapeTargetInput;
    response: ScrapeTargetView;
  };
  /** remove a run-time scrape target */
  deleteScrapeTarget: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: Health;
  };
  /** list rules (spec and run time) */
  listRules: {
    params: Record<string, never>;
    query: { deployment?: string };
    body: undefined;
    response: RuleList;
  };
  /** one rule */
  getRule: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: RuleView;
  };
  /** add or change a rule at run time (no redeploy) */
  putRule: {
    params: { name: string };
    query: Record<string, never>;
    body: RuleInput;
    response: RuleView;
  };
  /** remove a run-time rule */
  deleteRule: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: Health;
  };
  /** list schedules (spec and run time) */
  listSchedules: {
    params: Record<string, never>;
    query: { deployment?: string };
    body: undefined;
    response: ScheduleList;
  };
  /** one schedule */
  getSchedule: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: ScheduleView;
  };
  /** add or change a schedule at run time (no redeploy) */
  putSchedule: {
    params: { name: string };
    query: Record<string, never>;
    body: ScheduleInput;
    response: ScheduleView;
  };
  /** remove a run-time schedule */
  deleteSchedule: {
    params: { name: string };
    query: { deployment?: string };
    body: undefined;
    response: Health;
  };
  /** registered clouds */
  listClouds: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: CloudList;
  };
  /** a registered cloud */
  getCloud: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: CloudView;
  };
  /** register or change a cloud, then discover its offers */
  putCloud: {
    params: { name: string };
    query: Record<string, never>;
    body: CloudInput;
    response: CloudRegistration;
  };
  /** remove a registered cloud and its entries */
  deleteCloud: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: Removed;
  };
  /** run discovery now */
  discoverCloud: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: DiscoveryReport;
  };
  /** availability and p50/p95/p99 latency of the cloud's API per operation, with the error codes seen */
  cloudSla: {
    params: { name: string };
    query: { since?: string };
    body: undefined;
    response: SlaReport;
  };
  /** stored credentials: names and field names, never values */
  listCredentials: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: CredentialList;
  };
  /** a credential's name and field names */
  getCredential: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: CredentialView;
  };
  /** store a credential sealed (the answer names its fields only) */
  putCredential: {
    params: { name: string };
    query: Record<string, never>;
    body: CredentialInput;
    response: CredentialView;
  };
  /** remove a credential */
  deleteCredential: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: Removed;
  };
  /** the cloud's locations, discovered and by hand */
  listLocations: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: LocationList;
  };
  /** add or replace a location by hand (kept across discovery refreshes) */
  putLocation: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: LocationInput;
    response: Location;
  };
  /** remove a location */
  deleteLocation: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: undefined;
    response: Removed;
  };
  /** the cloud's offers, discovered and by hand */
  listOffers: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: OfferList;
  };
  /** add or replace a offer by hand (kept across discovery refreshes) */
  putOffer: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: OfferInput;
    response: Offer;
  };
  /** remove a offer */
  deleteOffer: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: undefined;
    response: Removed;
  };
  /** the cloud's images, discovered and by hand */
  listImages: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: ImageList;
  };
  /** add or replace a image by hand (kept across discovery refreshes) */
  putImage: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: ImageInput;
    response: Image;
  };
  /** remove a image */
  deleteImage: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: undefined;
    response: Removed;
  };
  /** the rolling update of a deployment, per component */
  getRollout: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: RolloutView;
  };
  /** pause the rolling update: the running batch finishes, no new one starts */
  pauseRollout: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: RolloutView;
  };
  /** resume the rolling update (a failed one tries its batch again) */
  resumeRollout: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: RolloutView;
  };
  /** endpoints and generated credentials of a deployment; the credential values only in the first read after it became ready */
  getAccess: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: AccessView;
  };
  /** the caller's workflows with their progress */
  listWorkflows: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: WorkflowList;
  };
  /** load a workflow (ecFlow .def or YAML) with its script and include files; nothing is stored when any part is wrong */
  loadWorkflow: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: WorkflowLoad;
    response: WorkflowSummary;
  };
  /** a workflow's tree of nodes with their states, and its progress */
  getWorkflow: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: WorkflowStatus;
  };
  /** delete a workflow (its running tries are killed) */
  deleteWorkflow: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: WorkflowCommandResult;
  };
  /** every dependency a node still waits for */
  workflowWhy: {
    params: { name: string };
    query: { path: string };
    body: undefined;
    response: WorkflowWhy;
  };
  /** begin the workflow (or one suite): its nodes are queued and free ones start */
  workflowBegin: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** suspend a node: nothing below it is submitted until it is resumed */
  workflowSuspend: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** resume a suspended node */
  workflowResume: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** requeue a node and everything below it (mode all), or only its aborted tasks (mode aborted) */
  workflowRequeue: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** force a node's state (complete by default) */
  workflowForce: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** run a task now, ignoring its dependencies */
  workflowRun: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** kill a task's running try */
  workflowKill: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** set a variable of a node */
  workflowAlter: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowCommand;
    response: WorkflowCommandResult;
  };
  /** the output of one try of a task (the latest by default) */
  workflowLogs: {
    params: { name: string };
    query: { path: string; try?: number };
    body: undefined;
    response: WorkflowLog;
  };
  /** the workflow as an ecFlow .def text */
  exportWorkflow: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: WorkflowExport;
  };
  /** a child command of a running job (init, complete, abort, event, meter, label, wait, queue), authenticated by the try's one-time password; a refusal (zombie) is 200 with ok false */
  workflowChild: {
    params: { name: string };
    query: Record<string, never>;
    body: WorkflowChildRequest;
    response: WorkflowCommandResult;
  };
  /** run a custom operation on some or all instances of a component; each instance's outcome and output in the answer */
  runOperation: {
    params: { name: string; component: string; operation: string };
    query: Record<string, never>;
    body: OperationRunRequest;
    response: OperationRunView;
  };
  /** the deployment's operation runs, newest first */
  listOperationRuns: {
    params: { name: string };
    query: { limit?: number };
    body: undefined;
    response: OperationRunList;
  };
  /** one operation run: its state and every instance's exit code and output */
  getOperationRun: {
    params: { name: string; run: string };
    query: Record<string, never>;
    body: undefined;
    response: OperationRunView;
  };
  /** where the recovery ladder of each instance with a recovery policy stands */
  getRecovery: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: RecoveryView;
  };
  /** a person acted: the instance's ladder starts again from its first step, its limits cleared (ends a give-up) */
  resetRecovery: {
    params: { name: string; instance: string };
    query: Record<string, never>;
    body: undefined;
    response: RecoveryView;
  };
  /** the deployment's backups, restores and drills, newest first */
  listBackups: {
    params: { name: string };
    query: { policy?: string; kind?: "backup" | "restore" | "drill"; instance?: string; limit?: number };
    body: undefined;
    response: BackupRunList;
  };
  /** back up the running instances of a policy now; each copy verified by size and SHA-256 */
  runBackup: {
    params: { name: string };
    query: Record<string, never>;
    body: BackupRunRequest;
    response: BackupRunList;
  };
  /** the deployment's backup policies: schedule and next run, what, where, retention, the last good and verified backup */
  listBackupPolicies: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: BackupPolicyList;
  };
  /** restore drill: restore a backup onto a scratch node, run the verify handler or health probe, remove the node; a pass marks the backup verified */
  drillBackup: {
    params: { name: string };
    query: Record<string, never>;
    body: DrillRequest;
    response: BackupRunView;
  };
  /** one backup, restore or drill */
  getBackup: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: undefined;
    response: BackupRunView;
  };
  /** restore a good backup in place, or onto another instance of its component */
  restoreBackup: {
    params: { name: string; id: string };
    query: Record<string, never>;
    body: RestoreRequest;
    response: BackupRunView;
  };
  /** every matching audit event, oldest first, as JSON lines (one event per line, with its hash and the previous one's) */
  exportEvents: {
    params: Record<string, never>;
    query: { deployment?: string; kind?: string; after?: number; correlationId?: string; target?: string; actor?: string; tenant?: string; since?: string; until?: string };
    body: undefined;
    response: string;
  };
  /** walk the tenant's hash chain of events (the administrator: every tenant's, or `tenant`'s) and report the first broken link */
  verifyEvents: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: undefined;
    response: ChainReportList;
  };
  /** resources the leak guard found billing with nothing of Nubis needing them (open ones; all=true: deleted and gone too) */
  listLeaks: {
    params: Record<string, never>;
    query: { all?: "true" | "false" };
    body: undefined;
    response: LeakList;
  };
  /** scan every cloud in use for leaks now; the tenant's open leaks after it */
  scanLeaks: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: LeakScan;
  };
  /** the tenant's leak policies (a cloud without one: report only) */
  listLeakPolicies: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: LeakPolicyList;
  };
  /** set what the leak guard does with leaks of a cloud (* for all): delete after a grace period, judge untagged resources */
  putLeakPolicy: {
    params: { cloud: string };
    query: Record<string, never>;
    body: LeakPolicyInput;
    response: LeakPolicyView;
  };
  /** remove a leak policy (the cloud is reported only again) */
  deleteLeakPolicy: {
    params: { cloud: string };
    query: Record<string, never>;
    body: undefined;
    response: Health;
  };
  /** what the tenant's nodes (price of their offer × running time) and priced leaked extras cost, by day or by deployment */
  getCost: {
    params: Record<string, never>;
    query: { from?: string; to?: string; by?: "day" | "deployment" };
    body: undefined;
    response: CostReport;
  };
  /** the tenant's monthly budgets with what was spent this month */
  listBudgets: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: BudgetList;
  };
  /** set the tenant's monthly budget */
  putTenantBudget: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: BudgetInput;
    response: BudgetView;
  };
  /** remove the tenant's monthly budget (done when it has none) */
  deleteTenantBudget: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: Health;
  };
  /** set a deployment's monthly budget */
  putDeploymentBudget: {
    params: { name: string };
    query: Record<string, never>;
    body: BudgetInput;
    response: BudgetView;
  };
  /** remove a deployment's monthly budget */
  deleteDeploymentBudget: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: Health;
  };
  /** the image marketplace: entries endorsed in the tenant, with how each stands */
  listImageEntries: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: undefined;
    response: ImageEntryList;
  };
  /** add a signed image entry; the signature is verified against the endorser's registered key before it is stored */
  endorseImage: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: ImageEndorsement;
    response: ImageEntryView;
  };
  /** one image entry */
  getImageEntry: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: ImageEntryView;
  };
  /** revoke an entry: its image may no longer run under an endorsed-only policy */
  revokeImageEntry: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: ImageEntryView;
  };
  /** endorser public keys registered in the tenant */
  listEndorsers: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: undefined;
    response: EndorserList;
  };
  /** register or replace an endorser's ed25519 public key (administrator) */
  putEndorser: {
    params: { name: string };
    query: { tenant?: string };
    body: EndorserInput;
    response: EndorserView;
  };
  /** remove an endorser's key (its entries then fail with unknown-endorser-key) */
  deleteEndorser: {
    params: { name: string };
    query: { tenant?: string };
    body: undefined;
    response: Removed;
  };
  /** the tenant's image policies (per cloud, and * for every cloud; none: open) */
  listImagePolicies: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: undefined;
    response: ImagePolicyList;
  };
  /** set the image policy of a tenant or of one of its clouds (administrator) */
  setImagePolicy: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: ImagePolicyInput;
    response: ImagePolicyView;
  };
  /** remove the image policy of a tenant (no cloud) or of one cloud (administrator) */
  deleteImagePolicy: {
    params: Record<string, never>;
    query: { tenant?: string; cloud?: string };
    body: undefined;
    response: Removed;
  };
  /** the tenant's quotas, what it uses and what each deployment reserves */
  getQuotas: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: undefined;
    response: QuotaView;
  };
  /** set a tenant's quotas (administrator); null removes a limit */
  setQuotas: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: QuotaInput;
    response: QuotaView;
  };
  /** the tenant's address pools with their leased, held and free counts */
  listAddressPools: {
    params: Record<string, never>;
    query: { tenant?: string };
    body: undefined;
    response: AddressPoolList;
  };
  /** create or change an address pool (administrator) */
  putAddressPool: {
    params: { name: string };
    query: { tenant?: string };
    body: AddressPoolInput;
    response: AddressPoolView;
  };
  /** remove an address pool with nothing leased or held (administrator) */
  deleteAddressPool: {
    params: { name: string };
    query: { tenant?: string };
    body: undefined;
    response: Removed;
  };
  /** leased and held addresses of the tenant (of one pool with ?pool=) */
  listAddressLeases: {
    params: Record<string, never>;
    query: { tenant?: string; pool?: string };
    body: undefined;
    response: AddressLeaseList;
  };
  /** hold a leased address for its deployment (default: the pool's hold time) */
  holdAddress: {
    params: { name: string };
    query: { tenant?: string };
    body: AddressHoldInput;
    response: AddressLeaseView;
  };
  /** free a leased or held address now */
  releaseAddress: {
    params: { name: string };
    query: { tenant?: string };
    body: AddressReleaseInput;
    response: Removed;
  };
  /** the web console (a single page; it speaks this API) */
  console: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: string;
  };
  /** a file of the web console (content-hashed names, cached for a year) */
  consoleAsset: {
    params: { file: string };
    query: Record<string, never>;
    body: undefined;
    response: string;
  };
  /** the spec a deployment runs (text as applied, secrets shown as ***) and its topology: components, channels, node templates, clouds */
  getDeploymentSpec: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: DeploymentSpec;
  };
  /** mint a token for a tenant with a role (the installation administrator only); the answer shows the token once */
  createToken: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: TokenInput;
    response: TokenCreated;
  };
  /** log in with a password: sets the HttpOnly session cookie nubis_session and answers the CSRF token for unsafe requests */
  login: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: LoginInput;
    response: Session;
  };
  /** end the session (its cookie no longer works); for a bearer token nothing changes */
  logout: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: string;
  };
  /** who the caller is: user (or token name), tenant, role, and for a session its CSRF token and the user's tenants */
  me: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: Session;
  };
  /** change the caller's own password (the current one is required); the user's other sessions end */
  changePassword: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: PasswordChange;
    response: string;
  };
  /** the caller's personal tokens (names and roles; never the tokens) */
  listPersonalTokens: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: TokenList;
  };
  /** mint a personal token in the caller's tenant (for the CLI: `nubis login`); it never acts with more than the user's role; shown once */
  createPersonalToken: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: PersonalTokenInput;
    response: TokenCreated;
  };
  /** revoke one of the caller's personal tokens in its tenant */
  deletePersonalToken: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: string;
  };
  /** every user with its roles (the installation administrator only) */
  listUsers: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: UserList;
  };
  /** one user with its roles */
  getUser: {
    params: { user: string };
    query: Record<string, never>;
    body: undefined;
    response: UserView;
  };
  /** create a user or set its password (its sessions end), with roles per tenant */
  putUser: {
    params: { user: string };
    query: Record<string, never>;
    body: UserInput;
    response: UserView;
  };
  /** remove a user: its roles, sessions and personal tokens go too */
  deleteUser: {
    params: { user: string };
    query: Record<string, never>;
    body: undefined;
    response: string;
  };
  /** give a user a role in a tenant (or change it) */
  putUserRole: {
    params: { user: string; tenant: string };
    query: Record<string, never>;
    body: RoleInput;
    response: UserView;
  };
  /** take a user's role in a tenant away (its sessions there end) */
  deleteUserRole: {
    params: { user: string; tenant: string };
    query: Record<string, never>;
    body: undefined;
    response: UserView;
  };
  /** the catalog templates offered to the caller's tenant, with their parameter schemas */
  listCatalog: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: CatalogTemplateList;
  };
  /** one template: its description and parameter schema (an order form is generated from it) */
  getCatalogTemplate: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: CatalogTemplate;
  };
  /** publish or re-publish a template (the installation administrator); the spec and parameter schema are checked whole */
  publishCatalogTemplate: {
    params: { name: string };
    query: Record<string, never>;
    body: CatalogTemplateInput;
    response: CatalogTemplate;
  };
  /** withdraw a template: no new orders; deployments ordered from it stay */
  withdrawCatalogTemplate: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: string;
  };
  /** order a template: the values are checked against its schema, then a new deployment is applied in the caller's tenant; nothing is created when any check fails */
  orderCatalogTemplate: {
    params: { name: string };
    query: Record<string, never>;
    body: CatalogOrderInput;
    response: CatalogOrderResult;
  };
  /** the caller's tenant's catalog orders, newest first */
  listOrders: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    response: CatalogOrderList;
  };
  /** alert rules in force: built-in, run-time, and a deployment's spec rules */
  listAlertRules: {
    params: Record<string, never>;
    query: { deployment?: string };
    body: undefined;
    response: AlertRuleList;
  };
  /** create or change a run-time alert rule (a built-in's name adjusts it) */
  putAlertRule: {
    params: { name: string };
    query: Record<string, never>;
    body: AlertRuleInput;
    response: AlertRuleView;
  };
  /** remove a run-time alert rule */
  deleteAlertRule: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: Health;
  };
  /** alert channels (secrets never shown) */
  listAlertChannels: {
    params: Record<string, never>;
    query: { deployment?: string };
    body: undefined;
    response: AlertChannelList;
  };
  /** create or change an alert channel; an inline secret is sealed at rest */
  putAlertChannel: {
    params: { name: string };
    query: Record<string, never>;
    body: AlertChannelInput;
    response: AlertChannelView;
  };
  /** remove an alert channel */
  deleteAlertChannel: {
    params: { name: string };
    query: Record<string, never>;
    body: undefined;
    response: Health;
  };
  /** send a test alert through a channel now (one attempt) */
  testAlert: {
    params: Record<string, never>;
    query: Record<string, never>;
    body: AlertTestInput;
    response: AlertTestResult;
  };
  /** the tenant's alerts, newest first (default: open and acknowledged ones) */
  listAlerts: {
    params: Record<string, never>;
    query: { deployment?: string; state?: "open" | "resolved" | "all" };
    body: undefined;
    response: AlertList;
  };
  /** one alert with its deliveries */
  getAlert: {
    params: { id: string };
    query: Record<string, never>;
    body: undefined;
    response: AlertView;
  };
  /** acknowledge an alert: no reminders until it resolves */
  ackAlert: {
    params: { id: string };
    query: Record<string, never>;
    body: undefined;
    response: AlertView;
  };
}

/** Each operation's method and path template; auth: whether it needs a caller; role: the least role it needs in the caller's tenant (x-nubis-role); installation: for the installation administrator only. */
export const OPERATIONS = {
  health: { method: "GET", path: "/healthz", auth: false },
  openapi: { method: "GET", path: "/openapi.json", auth: false },
  specSchema: { method: "GET", path: "/v1/schema/spec.json", auth: true, role: "viewer" },
  plan: { method: "POST", path: "/v1/plan", auth: true, role: "operator" },
  listDeployments: { method: "GET", path: "/v1/deployments", auth: true, role: "viewer" },
  apply: { method: "POST", path: "/v1/deployments", auth: true, role: "operator" },
  getDeployment: { method: "GET", path: "/v1/deployments/{name}", auth: true, role: "viewer" },
  destroy: { method: "DELETE", path: "/v1/deployments/{name}", auth: true, role: "operator" },
  forget: { method: "POST", path: "/v1/deployments/{name}/forget", auth: true, role: "operator" },
  endpoints: { method: "GET", path: "/v1/deployments/{name}/endpoints", auth: true, role: "viewer" },
  scale: { method: "POST", path: "/v1/deployments/{name}/scale", auth: true, role: "operator" },
  logs: { method: "GET", path: "/v1/deployments/{name}/instances/{instance}/logs", auth: true, role: "viewer" },
  listEvents: { method: "GET", path: "/v1/events", auth: true, role: "viewer" },
  streamEvents: { method: "GET", path: "/v1/events/stream", auth: true, role: "viewer", stream: true },
  selfMetrics: { method: "GET", path: "/metrics", auth: false },
  listSeries: { method: "GET", path: "/v1/metrics/series", auth: true, role: "viewer" },
  queryMetrics: { method: "GET", path: "/v1/metrics/query", auth: true, role: "viewer" },
  pushMetrics: { method: "POST", path: "/v1/metrics/push", auth: true, role: "operator" },
  listMonitors: { method: "GET", path: "/v1/deployments/{name}/instances/{instance}/monitors", auth: true, role: "viewer" },
  putMonitor: { method: "PUT", path: "/v1/deployments/{name}/instances/{instance}/monitors/{id}", auth: true, role: "operator" },
  deleteMonitor: { method: "DELETE", path: "/v1/deployments/{name}/instances/{instance}/monitors/{id}", auth: true, role: "operator" },
  listMetricDefinitions: { method: "GET", path: "/v1/metrics/definitions", auth: true, role: "viewer" },
  getMetricDefinition: { method: "GET", path: "/v1/metrics/definitions/{name}", auth: true, role: "viewer" },
  putMetricDefinition: { method: "PUT", path: "/v1/metrics/definitions/{name}", auth: true, role: "operator" },
  deleteMetricDefinition: { method: "DELETE", path: "/v1/metrics/definitions/{name}", auth: true, role: "operator" },
  listScrapeTargets: { method: "GET", path: "/v1/metrics/scrape", auth: true, role: "viewer" },
  getScrapeTarget: { method: "GET", path: "/v1/metrics/scrape/{name}", auth: true, role: "viewer" },
  putScrapeTarget: { method: "PUT", path: "/v1/metrics/scrape/{name}", auth: true, role: "operator" },
  deleteScrapeTarget: { method: "DELETE", path: "/v1/metrics/scrape/{name}", auth: true, role: "operator" },
  listRules: { method: "GET", path: "/v1/rules", auth: true, role: "viewer" },
  getRule: { method: "GET", path: "/v1/rules/{name}", auth: true, role: "viewer" },
  putRule: { method: "PUT", path: "/v1/rules/{name}", auth: true, role: "operator" },
  deleteRule: { method: "DELETE", path: "/v1/rules/{name}", auth: true, role: "operator" },
  listSchedules: { method: "GET", path: "/v1/schedules", auth: true, role: "viewer" },
  getSchedule: { method: "GET", path: "/v1/schedules/{name}", auth: true, role: "viewer" },
  putSchedule: { method: "PUT", path: "/v1/schedules/{name}", auth: true, role: "operator" },
  deleteSchedule: { method: "DELETE", path: "/v1/schedules/{name}", auth: true, role: "operator" },
  listClouds: { method: "GET", path: "/v1/clouds", auth: true, role: "viewer" },
  getCloud: { method: "GET", path: "/v1/clouds/{name}", auth: true, role: "viewer" },
  putCloud: { method: "PUT", path: "/v1/clouds/{name}", auth: true, role: "admin" },
  deleteCloud: { method: "DELETE", path: "/v1/clouds/{name}", auth: true, role: "admin" },
  discoverCloud: { method: "POST", path: "/v1/clouds/{name}/discover", auth: true, role: "admin" },
  cloudSla: { method: "GET", path: "/v1/clouds/{name}/sla", auth: true, role: "viewer" },
  listCredentials: { method: "GET", path: "/v1/credentials", auth: true, role: "viewer" },
  getCredential: { method: "GET", path: "/v1/credentials/{name}", auth: true, role: "viewer" },
  putCredential: { method: "PUT", path: "/v1/credentials/{name}", auth: true, role: "admin" },
  deleteCredential: { method: "DELETE", path: "/v1/credentials/{name}", auth: true, role: "admin" },
  listLocations: { method: "GET", path: "/v1/clouds/{name}/locations", auth: true, role: "viewer" },
  putLocation: { method: "PUT", path: "/v1/clouds/{name}/locations/{id}", auth: true, role: "admin" },
  deleteLocation: { method: "DELETE", path: "/v1/clouds/{name}/locations/{id}", auth: true, role: "admin" },
  listOffers: { method: "GET", path: "/v1/clouds/{name}/offers", auth: true, role: "viewer" },
  putOffer: { method: "PUT", path: "/v1/clouds/{name}/offers/{id}", auth: true, role: "admin" },
  deleteOffer: { method: "DELETE", path: "/v1/clouds/{name}/offers/{id}", auth: true, role: "admin" },
  listImages: { method: "GET", path: "/v1/clouds/{name}/images", auth: true, role: "viewer" },
  putImage: { method: "PUT", path: "/v1/clouds/{name}/images/{id}", auth: true, role: "admin" },
  deleteImage: { method: "DELETE", path: "/v1/clouds/{name}/images/{id}", auth: true, role: "admin" },
  getRollout: { method: "GET", path: "/v1/deployments/{name}/rollout", auth: true, role: "viewer" },
  pauseRollout: { method: "POST", path: "/v1/deployments/{name}/rollout/pause", auth: true, role: "operator" },
  resumeRollout: { method: "POST", path: "/v1/deployments/{name}/rollout/resume", auth: true, role: "operator" },
  getAccess: { method: "GET", path: "/v1/deployments/{name}/access", auth: true, role: "operator" },
  listWorkflows: { method: "GET", path: "/v1/workflows", auth: true, role: "viewer" },
  loadWorkflow: { method: "POST", path: "/v1/workflows", auth: true, role: "operator" },
  getWorkflow: { method: "GET", path: "/v1/workflows/{name}", auth: true, role: "viewer" },
  deleteWorkflow: { method: "DELETE", path: "/v1/workflows/{name}", auth: true, role: "operator" },
  workflowWhy: { method: "GET", path: "/v1/workflows/{name}/why", auth: true, role: "viewer" },
  workflowBegin: { method: "POST", path: "/v1/workflows/{name}/begin", auth: true, role: "operator" },
  workflowSuspend: { method: "POST", path: "/v1/workflows/{name}/suspend", auth: true, role: "operator" },
  workflowResume: { method: "POST", path: "/v1/workflows/{name}/resume", auth: true, role: "operator" },
  workflowRequeue: { method: "POST", path: "/v1/workflows/{name}/requeue", auth: true, role: "operator" },
  workflowForce: { method: "POST", path: "/v1/workflows/{name}/force", auth: true, role: "operator" },
  workflowRun: { method: "POST", path: "/v1/workflows/{name}/run", auth: true, role: "operator" },
  workflowKill: { method: "POST", path: "/v1/workflows/{name}/kill", auth: true, role: "operator" },
  workflowAlter: { method: "POST", path: "/v1/workflows/{name}/alter", auth: true, role: "operator" },
  workflowLogs: { method: "GET", path: "/v1/workflows/{name}/logs", auth: true, role: "viewer" },
  exportWorkflow: { method: "GET", path: "/v1/workflows/{name}/export", auth: true, role: "viewer" },
  workflowChild: { method: "POST", path: "/v1/workflows/{name}/child", auth: false },
  runOperation: { method: "POST", path: "/v1/deployments/{name}/components/{component}/operations/{operation}", auth: true, role: "operator" },
  listOperationRuns: { method: "GET", path: "/v1/deployments/{name}/operations", auth: true, role: "viewer" },
  getOperationRun: { method: "GET", path: "/v1/deployments/{name}/operations/{run}", auth: true, role: "viewer" },
  getRecovery: { method: "GET", path: "/v1/deployments/{name}/recovery", auth: true, role: "viewer" },
  resetRecovery: { method: "POST", path: "/v1/deployments/{name}/recovery/{instance}/reset", auth: true, role: "operator" },
  listBackups: { method: "GET", path: "/v1/deployments/{name}/backups", auth: true, role: "viewer" },
  runBackup: { method: "POST", path: "/v1/deployments/{name}/backups", auth: true, role: "operator" },
  listBackupPolicies: { method: "GET", path: "/v1/deployments/{name}/backups/policies", auth: true, role: "viewer" },
  drillBackup: { method: "POST", path: "/v1/deployments/{name}/backups/drill", auth: true, role: "operator" },
  getBackup: { method: "GET", path: "/v1/deployments/{name}/backups/{id}", auth: true, role: "viewer" },
  restoreBackup: { method: "POST", path: "/v1/deployments/{name}/backups/{id}/restore", auth: true, role: "operator" },
  exportEvents: { method: "GET", path: "/v1/events/export", auth: true, role: "viewer" },
  verifyEvents: { method: "GET", path: "/v1/events/verify", auth: true, role: "viewer" },
  listLeaks: { method: "GET", path: "/v1/leaks", auth: true, role: "viewer" },
  scanLeaks: { method: "POST", path: "/v1/leaks/scan", auth: true, role: "operator" },
  listLeakPolicies: { method: "GET", path: "/v1/leaks/policies", auth: true, role: "viewer" },
  putLeakPolicy: { method: "PUT", path: "/v1/leaks/policies/{cloud}", auth: true, role: "operator" },
  deleteLeakPolicy: { method: "DELETE", path: "/v1/leaks/policies/{cloud}", auth: true, role: "operator" },
  getCost: { method: "GET", path: "/v1/cost", auth: true, role: "viewer" },
  listBudgets: { method: "GET", path: "/v1/budgets", auth: true, role: "viewer" },
  putTenantBudget: { method: "PUT", path: "/v1/budgets", auth: true, role: "operator" },
  deleteTenantBudget: { method: "DELETE", path: "/v1/budgets", auth: true, role: "operator" },
  putDeploymentBudget: { method: "PUT", path: "/v1/budgets/{name}", auth: true, role: "operator" },
  deleteDeploymentBudget: { method: "DELETE", path: "/v1/budgets/{name}", auth: true, role: "operator" },
  listImageEntries: { method: "GET", path: "/v1/images", auth: true, role: "viewer" },
  endorseImage: { method: "POST", path: "/v1/images", auth: true, role: "operator" },
  getImageEntry: { method: "GET", path: "/v1/images/{name}", auth: true, role: "viewer" },
  revokeImageEntry: { method: "POST", path: "/v1/images/{name}/revoke", auth: true, role: "operator" },
  listEndorsers: { method: "GET", path: "/v1/image-endorsers", auth: true, role: "viewer" },
  putEndorser: { method: "PUT", path: "/v1/image-endorsers/{name}", auth: true, role: "admin", installation: true },
  deleteEndorser: { method: "DELETE", path: "/v1/image-endorsers/{name}", auth: true, role: "admin", installation: true },
  listImagePolicies: { method: "GET", path: "/v1/image-policies", auth: true, role: "viewer" },
  setImagePolicy: { method: "PUT", path: "/v1/image-policies", auth: true, role: "admin", installation: true },
  deleteImagePolicy: { method: "DELETE", path: "/v1/image-policies", auth: true, role: "admin", installation: true },
  getQuotas: { method: "GET", path: "/v1/quotas", auth: true, role: "viewer" },
  setQuotas: { method: "PUT", path: "/v1/quotas", auth: true, role: "admin", installation: true },
  listAddressPools: { method: "GET", path: "/v1/address-pools", auth: true, role: "viewer" },
  putAddressPool: { method: "PUT", path: "/v1/address-pools/{name}", auth: true, role: "admin", installation: true },
  deleteAddressPool: { method: "DELETE", path: "/v1/address-pools/{name}", auth: true, role: "admin", installation: true },
  listAddressLeases: { method: "GET", path: "/v1/address-leases", auth: true, role: "viewer" },
  holdAddress: { method: "POST", path: "/v1/address-pools/{name}/hold", auth: true, role: "operator" },
  releaseAddress: { method: "POST", path: "/v1/address-pools/{name}/release", auth: true, role: "operator" },
  console: { method: "GET", path: "/", auth: false },
  consoleAsset: { method: "GET", path: "/assets/{file}", auth: false },
  getDeploymentSpec: { method: "GET", path: "/v1/deployments/{name}/spec", auth: true, role: "viewer" },
  createToken: { method: "POST", path: "/v1/tokens", auth: true, role: "admin", installation: true },
  login: { method: "POST", path: "/v1/login", auth: false },
  logout: { method: "POST", path: "/v1/logout", auth: true, role: "viewer" },
  me: { method: "GET", path: "/v1/me", auth: true, role: "viewer" },
  changePassword: { method: "POST", path: "/v1/me/password", auth: true, role: "viewer" },
  listPersonalTokens: { method: "GET", path: "/v1/me/tokens", auth: true, role: "viewer" },
  createPersonalToken: { method: "POST", path: "/v1/me/tokens", auth: true, role: "viewer" },
  deletePersonalToken: { method: "DELETE", path: "/v1/me/tokens/{name}", auth: true, role: "viewer" },
  listUsers: { method: "GET", path: "/v1/users", auth: true, role: "admin", installation: true },
  getUser: { method: "GET", path: "/v1/users/{user}", auth: true, role: "admin", installation: true },
  putUser: { method: "PUT", path: "/v1/users/{user}", auth: true, role: "admin", installation: true },
  deleteUser: { method: "DELETE", path: "/v1/users/{user}", auth: true, role: "admin", installation: true },
  putUserRole: { method: "PUT", path: "/v1/users/{user}/roles/{tenant}", auth: true, role: "admin", installation: true },
  deleteUserRole: { method: "DELETE", path: "/v1/users/{user}/roles/{tenant}", auth: true, role: "admin", installation: true },
  listCatalog: { method: "GET", path: "/v1/catalog", auth: true, role: "viewer" },
  getCatalogTemplate: { method: "GET", path: "/v1/catalog/{name}", auth: true, role: "viewer" },
  publishCatalogTemplate: { method: "PUT", path: "/v1/catalog/{name}", auth: true, role: "admin", installation: true },
  withdrawCatalogTemplate: { method: "DELETE", path: "/v1/catalog/{name}", auth: true, role: "admin", installation: true },
  orderCatalogTemplate: { method: "POST", path: "/v1/catalog/{name}/orders", auth: true, role: "operator" },
  listOrders: { method: "GET", path: "/v1/orders", auth: true, role: "viewer" },
  listAlertRules: { method: "GET", path: "/v1/alerts/rules", auth: true, role: "viewer" },
  putAlertRule: { method: "PUT", path: "/v1/alerts/rules/{name}", auth: true, role: "operator" },
  deleteAlertRule: { method: "DELETE", path: "/v1/alerts/rules/{name}", auth: true, role: "operator" },
  listAlertChannels: { method: "GET", path: "/v1/alerts/channels", auth: true, role: "viewer" },
  putAlertChannel: { method: "PUT", path: "/v1/alerts/channels/{name}", auth: true, role: "admin" },
  deleteAlertChannel: { method: "DELETE", path: "/v1/alerts/channels/{name}", auth: true, role: "admin" },
  testAlert: { method: "POST", path: "/v1/alerts/test", auth: true, role: "operator" },
  listAlerts: { method: "GET", path: "/v1/alerts", auth: true, role: "viewer" },
  getAlert: { method: "GET", path: "/v1/alerts/{id}", auth: true, role: "viewer" },
  ackAlert: { method: "POST", path: "/v1/alerts/{id}/ack", auth: true, role: "operator" },
} as const;

export type OperationId = keyof Operations;
