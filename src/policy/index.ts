/**
 * policy — pure decisions cloud operators set for tenants: placement over hosts and clouds
 * (./placement) and firewalls from channels (./firewalls). Pure: the model, the engine and the
 * drivers import this door. The controls that admit or refuse work (the image marketplace,
 * quotas, address pools) depend on the engine and live in src/controls.
 */
export * from './placement/index.js';
export * from './firewalls/index.js';
