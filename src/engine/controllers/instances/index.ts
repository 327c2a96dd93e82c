export { InstancesController, healthProbe } from './lifecycle.js';
export { ObserveController } from './observe.js';
