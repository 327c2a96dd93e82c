/** The local driver's options (see ./index.ts for what each one does). */
import { doc, type DriverOptionsSchema } from '../option-types.js';

export const LOCAL_OPTIONS: DriverOptionsSchema = {
  fields: {
    root: doc({ type: 'string', expected: 'a directory path' }, 'where node sandboxes and the inventory live; default <data>/local'),
    portBase: doc({ type: 'number', integer: true, min: 1024, max: 65535 }, 'first port of the first node\'s range; default 21000'),
    portsPerNode: doc({ type: 'number', integer: true, min: 2, max: 1000 }, 'ports per node: the agent takes the first, its Graphite listener the last, provided ports are in between; default 10'),
    portMax: doc({ type: 'number', integer: true, min: 1024, max: 65535 }, 'last port any node may use; default 65535'),
    readyTimeoutMs: doc({ type: 'number', integer: true, min: 100, max: 600_000 }, 'how long a new agent has to answer, in ms; default 15000'),
    images: doc({ type: 'string', expected: 'a directory path' }, 'a directory of image files: an image is a file name in it, its checksum the SHA-256 of the file (for the image policy)'),
    image: doc({ type: 'string', expected: 'an image file name' }, 'the image nodes boot, a file in `images` (checked by the image policy)'),
    killGraceMs: doc({ type: 'number', integer: true, min: 0, max: 60_000 }, 'between SIGTERM and SIGKILL when a node\'s processes stop, in ms; default 2000'),
  },
};
