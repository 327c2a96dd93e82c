/**
 * What a job runs of the agent's besides its script: the POSIX-sh `nubis` shim first on its
 * PATH (jobs/bin/nubis) and the file bash jobs source at start (jobs/bin/bash-env). The
 * record format of the job's FIFO channel is described in ./job-channel.ts; the bash function
 * that uses the job port instead is in ./job-port.ts. Only shell builtins run in the shim,
 * apart from its own start. Outside an agent job (no channel), the shim runs the Node CLI.
 */

/** Separates a record's fields. */
export const FIELD = '\x1f';
/** Ends a record. */
export const RECORD = '\x1e\n';

/** The verbs whose caller waits for the control plane's answer (the shim's `case`). */
export const WAITING_RE = /^--(init|complete|abort|wait|queue)/;

export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Sourced by a bash job before its script (BASH_ENV): sets ECF_RID to the job's own pid (what
 * the /bin/sh wrapper does for other interpreters, without a second process start), then
 * hands over to the job's own BASH_ENV, if it had one.
 */
export const BASH_ENV_TEXT = `# written by the Nubis agent: sourced by bash jobs at start (BASH_ENV); do not edit
ECF_RID=$$; export ECF_RID
if [ -n "\${NUBIS_BASH_ENV-}" ]; then BASH_ENV=$NUBIS_BASH_ENV; unset NUBIS_BASH_ENV; . "$BASH_ENV"; else unset BASH_ENV; fi
`;

/**
 * The shim's text: a POSIX sh program that costs three or four forks per call (its own start,
 * and a `sleep` that bounds the call).
 *
 * A call waits for the agent at most ECF_TIMEOUT seconds (as ecflow_client: default 24 h; 0:
 * no bound): its write to the job's FIFO waits while no agent reads it (a restarting agent
 * re-adopts the job and reads it again), and a waiting verb waits for the answer. Past that it
 * fails with exit 1 and says so on stderr; a lock it holds stays taken (the agent frees it when
 * it answers or refuses the call, so no later call can read this call's answer). With
 * ECF_DENIED set, a call fails at once when no agent of the node runs (`jobs/bin/agent.pid`
 * names no live process), as ecflow_client fails when the server refuses the connection.
 * `--queue NAME active` prints the step it hands out (the value after `ok` in the answer).
 */
export function shimText(cli: readonly string[]): string {
  return `#!/bin/sh
# nubis — the Nubis agent's child-command client for jobs (written by the agent; do not edit).
# Inside an agent job it talks to the agent over the job's FIFO; elsewhere it runs the Nubis CLI.
if [ "\${1-}" = child ] && [ -n "\${NUBIS_JOB_CHANNEL-}" ] && [ -p "$NUBIS_JOB_CHANNEL" ]; then
  shift
  [ -n "\${NO_ECF+x}" ] && exit 0
  a1=\${1-}
  [ $# -gt 0 ] && shift
  IFS=' '
  rest="$*"
  r=
  t=\${ECF_TIMEOUT:-86400}
  case $t in *[!0-9]*) printf 'nubis child: ECF_TIMEOUT is %s, not a number of seconds\\n' "$t" >&2; exit 1 ;; esac
  if [ -n "\${ECF_DENIED-}" ]; then
    p=
    { IFS= read -r p <"\${0%/*}/agent.pid"; } 2>/dev/null
    if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then echo "nubis child: $a1: no agent runs on this node (ECF_DENIED is set)" >&2; exit 1; fi
  fi
  case $a1 in
    --init*|--complete*|--abort*|--wait*|--queue*)
      set -C
      while :; do
        for i in 0 1 2 3 4 5 6 7; do
          if { true >"$NUBIS_JOB_DIR/l$i"; } 2>/dev/null; then r="$NUBIS_JOB_DIR/r$i"; break 2; fi
        done
        [ -p "$NUBIS_JOB_DIR/r0" ] || { echo 'nubis child: the job'"'"'s reply channel is gone' >&2; exit 1; }
        sleep 0.01
      done
      set +C
      exec 3<>"$r" ;;
  esac
  # the bound: a sleep whose end interrupts the blocked write or read (its SIGCHLD is trapped)
  w=
  if [ "$t" -gt 0 ]; then
    sleep "$t" & w=$!
    trap 'printf "nubis child: %s: no answer from the agent within %s s (ECF_TIMEOUT)\\n" "$a1" "$t" >&2; exit 1' CHLD
  fi
  over() { trap - CHLD; [ -n "$w" ] && kill "$w" 2>/dev/null; exit "$1"; }
  printf '%s\\037%s\\037%s\\037%s\\037%s\\037%s\\037%s\\036\\n' "$r" "\${ECF_NAME-}" "\${ECF_PASS-}" "\${ECF_TRYNO-}" "\${ECF_RID-}" "$a1" "$rest" >"$NUBIS_JOB_CHANNEL" || over 1
  [ -z "$r" ] && over 0
  IFS= read -r ans <&3 || ans='refused the agent closed the reply channel'
  case $ans in
    ok) over 0 ;;
    ok\\ *) printf '%s\\n' "\${ans#ok }"; over 0 ;;
  esac
  printf 'nubis child: %s\\n' "\${ans#refused }" >&2
  over 1
fi
exec ${cli.map(shq).join(' ')} "$@"
`;
}
