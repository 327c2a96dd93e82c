/**
 * The job port: a loopback TCP listener for the child commands of bash jobs. A bash job gets a
 * `nubis` shell function in its environment (`BASH_FUNC_nubis%%`, below) that opens
 * `/dev/tcp/127.0.0.1/$NUBIS_JOB_PORT` (a bash builtin redirection: no fork, no exec, no file
 * created), sends one record and reads one answer line. The same record as on the FIFO channel
 * (./jobs.ts), except that its first field is the job's key (`NUBIS_JOB_KEY`, random per job:
 * the port is reachable by every local user; the key names the job, the ECF_PASS in the record
 * still decides at the control plane whether the call is a zombie).
 *
 * When the port does not take the connection (the agent is down, say restarting), the function
 * runs the POSIX-sh shim instead: its write to the job's FIFO waits until an agent reads the
 * channel again (a restarted agent re-adopts the job, ./job-restore.ts).
 *
 * Every call gets an answer line: a waiting verb (`--init`, `--complete`, `--abort`, `--wait`)
 * when the control plane has answered; the others (`--event`, `--meter`, `--label`) once the
 * agent has the record in its feed (so a job's calls keep their order: each returns only after
 * the agent has it). A connection that sends no whole record within `idleMs` is dropped.
 *
 * Other shells (sh, dash, ksh…) keep using the POSIX-sh shim on PATH and the job's FIFOs.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

/** The environment variable bash imports as the function `nubis`. */
export const BASH_FUNCTION_ENV = 'BASH_FUNC_nubis%%';

/** The job port's answer to a key it does not know (the caller then uses the FIFO shim). */
export const UNKNOWN_KEY = 'unknown-key';

/**
 * The function's text as bash imports it (`() { … }`). Outside an agent job, or for anything but
 * `child`, it runs the `nubis` on PATH. When the port cannot be reached, does not know the key
 * (an agent restarted since the job started: its port and keys are new) or closes without an
 * answer, the call goes through the shim on PATH and the job's FIFO channel instead, which
 * outlive an agent. Safe under `set -eu -o pipefail`: nothing in it fails outside a condition.
 * A refused event, meter or label is reported on stderr and returns 0 (as ecflow_client); a
 * refused init, complete, abort, wait or queue returns 1. A call answered `ok VALUE` (`--queue
 * NAME active`) prints VALUE. An answer that takes longer than ECF_TIMEOUT seconds (default
 * 24 h, 0: no bound) fails the call (1), as the shim does (./job-shim.ts).
 */
export const BASH_FUNCTION = `() {
  if [ "\${1-}" != child ] || [ -z "\${NUBIS_JOB_PORT-}" ]; then command nubis "$@"; return; fi
  shift
  if [ -n "\${NO_ECF+x}" ]; then return 0; fi
  local a1="\${1-}" IFS=' ' ans= t="\${ECF_TIMEOUT:-86400}" to= rc=0
  if [ $# -gt 0 ]; then shift; fi
  case $t in *[!0-9]*) command nubis child "$a1" "$@"; return ;; esac
  if [ "$t" != 0 ]; then to="-t $t"; fi
  { printf '%s\\037%s\\037%s\\037%s\\037%s\\037%s\\037%s\\036\\n' "\${NUBIS_JOB_KEY-}" "\${ECF_NAME-}" "\${ECF_PASS-}" "\${ECF_TRYNO-}" "\${ECF_RID-}" "$a1" "$*" >&9 && IFS= read -r $to ans <&9; } 2>/dev/null 9<>"/dev/tcp/127.0.0.1/$NUBIS_JOB_PORT" || rc=$?
  case $ans in
    ok) return 0 ;;
    ok\\ *) printf '%s\\n' "\${ans#ok }"; return 0 ;;
    refused*) ;;
    *)
      if [ $rc -gt 128 ]; then printf 'nubis child: %s: no answer from the agent within %s s (ECF_TIMEOUT)\\n' "$a1" "$t" >&2; return 1; fi
      command nubis child "$a1" "$@"; return ;;
  esac
  printf 'nubis child: %s\\n' "\${ans#refused }" >&2
  case $a1 in --init*|--complete*|--abort*|--wait*|--queue*) return 1 ;; esac
  return 0
}`;

const FIELD = '\x1f';
const RECORD = '\x1e\n';

export interface JobPort {
  readonly port: number;
  close(): Promise<void>;
}

/** Answers one call: one line, then the connection ends. Does nothing once the caller is gone. */
export type PortReply = (text: string) => void;

export interface JobPortOptions {
  /** A whole record arrived: `key` is its first field, `record` the rest (the FIFO record without its reply field). */
  onRecord(key: string, record: string, reply: PortReply): void;
  maxRecord: number;
  idleMs?: number;
  /** The port to listen on (an earlier agent's, that its jobs know); taken: a free one. Default a free one. */
  port?: number;
  log?(line: string): void;
}

/** Listens on 127.0.0.1 (`o.port` when it is free, else a free port). */
export async function startJobPort(o: JobPortOptions): Promise<JobPort> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => onConnection(sock, o, sockets));
  const listen = (port: number): Promise<void> => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (o.port === undefined) await listen(0);
  else await listen(o.port).catch(() => listen(0));
  server.on('error', (e) => o.log?.(`job port: ${e.message}`));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function onConnection(sock: Socket, o: JobPortOptions, sockets: Set<Socket>): void {
  sockets.add(sock);
  sock.once('close', () => sockets.delete(sock));
  sock.on('error', () => sock.destroy());
  sock.setTimeout(o.idleMs ?? 30_000, () => sock.destroy());
  const decoder = new StringDecoder('utf8');
  let buf = '';
  const reply: PortReply = (text) => {
    if (!sock.destroyed) sock.end(`${text.replace(/[\r\n]+/g, ' ')}\n`);
  };
  const onData = (chunk: Buffer): void => {
    buf += decoder.write(chunk);
    const end = buf.indexOf(RECORD);
    if (end < 0) {
      if (buf.length > o.maxRecord) {
        sock.off('data', onData);
        reply('refused the record is too long');
      }
      return;
    }
    // one record per connection: what follows it is ignored
    sock.off('data', onData);
    sock.setTimeout(0);
    const text = buf.slice(0, end);
    const cut = text.indexOf(FIELD);
    o.onRecord(cut < 0 ? text : text.slice(0, cut), cut < 0 ? '' : text.slice(cut + 1), reply);
  };
  sock.on('data', onData);
}
