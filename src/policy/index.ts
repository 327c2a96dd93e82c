/**
 * policy — what cloud operators decide for tenants: placement (./placement), firewalls from
 * channels (./firewalls). Each sub-folder is a unit with its own index.ts; other modules import
 * this door only.
 */
// [placement] (helper h/placement)
export * from './placement/index.js';
export * from './firewalls/index.js';
