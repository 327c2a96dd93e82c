/** Shared by the alerts tests: a deployment that fails with the engine's non-retryable provider error. */

/** A spec on an in-process sim cloud that answers every create with HTTP 402 (payment required). */
export function paymentRequiredSpec(name: string): string {
  return [
    `name: ${name}`,
    'clouds: { sim: { platform: sim, options: { path: ":memory:", errors: { create: [{ rate: 1, status: 402 }] } } } }',
    'nodeTemplates: { t: { cloud: sim } }',
    'components: { app: { nodeTemplate: t, lifecycle: { start: run } } }',
    '',
  ].join('\n');
}
