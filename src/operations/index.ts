/**
 * operations — keeping a service running unattended: backups and stores, recovery policies,
 * alerts and channels. Each part has its own folder and exports through here.
 */
export * from './alerts/index.js';
