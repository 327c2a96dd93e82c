/**
 * The normalised application model the engine works from: defaults filled, durations in
 * milliseconds, references resolved. Produced only by `parseSpec` (see ./index.ts).
 */
import type { HandlerName, Platform } from './schema.js';

export interface AppSpec {
  /** The deployment name. */
  name: string;
  clouds: Record<string, CloudSpec>;
  nodeTemplates: Record<string, NodeTemplateSpec>;
  components: Record<string, ComponentSpec>;
}

export interface CloudSpec {
  name: string;
  platform: Platform;
  options: Record<string, unknown>;
  /** Fixed creation concurrency; undefined means adaptive. */
  concurrency?: number;
}

export interface NodeRequirements {
  cores?: number;
  memoryMiB?: number;
  diskGiB?: number;
  os?: string;
  osVersion?: string;
  clouds?: string[];
  locations?: string[];
  maxPrice?: number;
}

export interface NodeTemplateSpec {
  name: string;
  cloud: string;
  requirements: NodeRequirements;
}

export interface HandlerSpec {
  run: string;
  /** Default 60 000. */
  timeoutMs: number;
  /** Extra attempts after a failure. Default 2. */
  retries: number;
}

export interface HealthSpec {
  kind: 'command' | 'tcp' | 'http';
  command?: string;
  /** Name of a provided port (tcp, http). */
  port?: string;
  /** HTTP path, default `/`. */
  path?: string;
  /** Default 2 000. */
  intervalMs: number;
  /** Default 1 000. */
  timeoutMs: number;
  /** Consecutive failures before unhealthy. Default 3. */
  retries: number;
}

export interface ChannelSpec {
  /** Name of the required port on this component. */
  name: string;
  component: string;
  port: string;
  optional: boolean;
}

export interface ComponentSpec {
  name: string;
  nodeTemplate: string;
  /** The template's cloud, resolved. */
  cloud: string;
  count: number;
  /** Default 0. */
  min: number;
  /** Default max(count, 100). */
  max: number;
  /** Default 'youngest'. */
  scaleIn: 'youngest' | 'oldest';
  provides: Record<string, { port?: number }>;
  requires: Record<string, ChannelSpec>;
  env: Record<string, string>;
  /** Paths relative to the spec file. */
  artefacts: string[];
  handlers: Partial<Record<HandlerName, HandlerSpec>>;
  health?: HealthSpec;
}

/** One precise problem in a spec. */
export interface SpecProblem {
  file: string;
  line: number;
  col: number;
  /** JSON path, such as `$.components.app.instances.count`. */
  path: string;
  expected: string;
  found: string;
  message: string;
}

export type { HandlerName, Platform };
