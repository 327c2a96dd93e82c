export { InstancesController } from './lifecycle.js';
export { ObserveController } from './observe.js';
