#!/bin/bash
# head.h — the top of every postproc job. It is ecFlow's usual head.h with one change: the
# child commands go to `nubis child` instead of `ecflow_client` (the job protocol: the task's
# name, one-time password and try number identify the job; a wrong or stale one is a zombie).
set -eu -o pipefail
export ECF_NAME=%ECF_NAME%
export ECF_PASS=%ECF_PASS%
export ECF_TRYNO=%ECF_TRYNO%
export ECF_RID=$$
child() { nubis child "$@"; }
child --init=$$
on_error() {
  set +e
  trap - EXIT HUP INT TERM
  child --abort="$1"
  exit 0
}
trap 'on_error "exit=$?"' EXIT
trap 'on_error signal' HUP INT TERM
# where this cycle's files live (one directory per day and cycle, as on cloudsigmadb's NFS share)
DATA=%POSTPROC_DATA:/tmp/nubis-postproc%/%YMD%%CYCLE%
mkdir -p "$DATA/raw" "$DATA/processed"
