/** Address pools with leases and holds (see ./pools.ts; ranges in ./ranges.ts). */
export { createAddressPools, type AddressPools, type AddressPoolView, type AddressLeaseView } from './pools.js';
export { parseRanges, parseRange, firstFree, inRanges, intToIp, MAX_POOL_ADDRESSES } from './ranges.js';
