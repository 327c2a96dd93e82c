/** The cloudsigma driver's options (see ./driver.ts for what each one does). */
import { doc, type DriverOptionsSchema } from '../option-types.js';
import { parseCloudSigmaOptions } from './driver.js';

const ms = { type: 'number', min: 0 } as const;

export const CLOUDSIGMA_OPTIONS: DriverOptionsSchema = {
  required: ['endpoint', 'cloneFrom'],
  fields: {
    endpoint: doc({ type: 'string', pattern: /^https?:\/\//, expected: 'an API URL such as https://zrh.cloudsigma.com/api/2.0/' }, 'the API 2.0 URL of a location (required)'),
    cloneFrom: doc({ type: 'string', expected: 'a server or drive uuid' }, 'uuid of the prepared server to clone, or of a drive with cloneKind drive (required)'),
    cloneKind: doc({ type: 'string', enum: ['server', 'drive'] }, 'server: clone the server; drive: a new server booting a clone of the drive; default server'),
    recurse: doc({ type: 'string', enum: ['all_drives', 'disks', 'cdroms'] }, 'what delete removes with the server (all_drives also deletes shared CD-ROMs: use disks then); default all_drives'),
    cpuMHz: doc({ type: 'number', min: 1 }, 'CPU per requested core for cloneKind drive; default 2000'),
    pageSize: doc({ type: 'number', integer: true, min: 1 }, 'limit of list calls; default 100'),
    pollMs: doc(ms, 'interval of every status poll, in ms; default 1000'),
    stopTimeoutMs: doc(ms, 'how long the stop before a delete may take, in ms; default 120000'),
    cloneTimeoutMs: doc(ms, 'how long a clone\'s copy may take, in ms; default 600000'),
    agentPort: doc({ type: 'number', integer: true, min: 1, max: 65535 }, 'where the control plane dials agents (the user data starts them on 7430); default 7430'),
    agentPath: doc({ type: 'string' }, 'the agent program on the image'),
    graphitePort: doc({ type: 'number', integer: true, min: 0, max: 65535 }, 'the agent\'s Graphite listener on the VM, on 127.0.0.1 (NUBIS_GRAPHITE), 0 for none; default 2003'),
  },
  check: (o) => void parseCloudSigmaOptions(o),
};
