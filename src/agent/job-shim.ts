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
export const WAITING_RE = /^--(init|complete|abort|wait)/;

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

/** The shim's text: a POSIX sh program that costs two or three forks per call. */
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
  case $a1 in
    --init*|--complete*|--abort*|--wait*)
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
  printf '%s\\037%s\\037%s\\037%s\\037%s\\037%s\\037%s\\036\\n' "$r" "\${ECF_NAME-}" "\${ECF_PASS-}" "\${ECF_TRYNO-}" "\${ECF_RID-}" "$a1" "$rest" >"$NUBIS_JOB_CHANNEL" || exit 1
  [ -z "$r" ] && exit 0
  IFS= read -r ans <&3 || ans='refused the agent closed the reply channel'
  case $ans in ok*) exit 0 ;; esac
  printf 'nubis child: %s\\n' "\${ans#refused }" >&2
  exit 1
fi
exec ${cli.map(shq).join(' ')} "$@"
`;
}
