/**
 * The POSIX shell the ssh driver runs on hosts. Every script is built from fixed text plus
 * values quoted with `q`, never from unquoted input. Secrets (the agent token, node.json which
 * holds it) travel on stdin, never in a command line that `ps` on the host would show.
 *
 * Layout under remoteRoot (default /opt/nubis), all of it made by the driver:
 *   lib/              the agent bundle (see ./bundle.ts) and a package.json marking it ESM
 *   runtime/node      the Node binary, only when the host had none ≥ 20
 *   node.json         the node's record (id, key, tags, token, created*): a fresh control plane
 *                     lists by tag by reading it (mode 0600)
 *   agent.pid         the agent's pid, which is its process group and session id
 *   nodes/<id>/       the agent's sandbox (instances, logs, agent.log)
 */

/** Single-quotes a value for sh. */
export function q(value: string | number): string {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

/** Facts `create` needs. Prints `key=value` lines. */
export function inspectScript(root: string): string {
  return [
    `r=${q(root)}`,
    'printf "arch=%s\\n" "$(uname -m)"',
    'n=$(command -v node 2>/dev/null || true)',
    'v=; if [ -n "$n" ]; then v=$("$n" --version 2>/dev/null || true); fi',
    'printf "node=%s\\nnodeVersion=%s\\n" "$n" "$v"',
    // the topmost directory of remoteRoot that does not exist yet: what delete may remove again
    'd=$r; top=; while [ ! -e "$d" ]; do top=$d; d=$(dirname "$d"); done',
    'printf "createdTop=%s\\n" "$top"',
    'if [ -f "$r/node.json" ]; then printf "nodeJson="; tr -d "\\n" <"$r/node.json"; echo; fi',
  ].join('\n');
}

/** Liveness of the node on the host: its record and which node the recorded agent pid belongs to. */
export function probeScript(root: string): string {
  return [
    `r=${q(root)}`,
    'if [ -f "$r/node.json" ]; then printf "nodeJson="; tr -d "\\n" <"$r/node.json"; echo; fi',
    'pg=$(cat "$r/agent.pid" 2>/dev/null || true)',
    'case $pg in ""|*[!0-9]*) ;; *) printf "agentPid=%s\\nagentNode=" "$pg"; tr "\\0" "\\n" <"/proc/$pg/environ" 2>/dev/null | sed -n "s/^NUBIS_NODE_ID=//p" | head -n 1; echo ;; esac',
  ].join('\n');
}

/** Hardware and OS facts for discovery. */
export function factsScript(root: string): string {
  return [
    `r=${q(root)}`,
    'printf "cores=%s\\n" "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"',
    'printf "memKiB=%s\\n" "$(sed -n "s/^MemTotal: *\\([0-9]*\\) kB/\\1/p" /proc/meminfo)"',
    'd=$r; while [ ! -e "$d" ]; do d=$(dirname "$d"); done',
    'printf "diskKiB=%s\\n" "$(df -Pk "$d" | awk "NR==2 {print \\$2}")"',
    'printf "arch=%s\\n" "$(uname -m)"',
    'if [ -r /etc/os-release ]; then sed -n "s/^\\(ID\\|VERSION_ID\\|PRETTY_NAME\\)=\\"\\{0,1\\}\\([^\\"]*\\)\\"\\{0,1\\}$/os_\\1=\\2/p" /etc/os-release; fi',
  ].join('\n');
}

/** Makes the directories of remoteRoot and the bundle; writes lib/package.json. */
export function prepareScript(root: string, id: string, dirs: string[]): string {
  const all = ['lib', 'runtime', 'nodes', `nodes/${id}`, ...dirs.map((d) => `lib/${d}`)];
  return [
    'set -e',
    `r=${q(root)}`,
    'umask 022',
    `mkdir -p ${all.map((d) => `"$r"/${q(d)}`).join(' ')}`,
    'chmod 0700 "$r/nodes"',
    `printf '%s\\n' '{"type":"module"}' >"$r/lib/package.json"`,
  ].join('\n');
}

/** Writes node.json from stdin, atomically, readable by root only. */
export function writeRecordScript(root: string): string {
  return ['set -e', `r=${q(root)}`, 'umask 077', 'cat >"$r/node.json.tmp"', 'mv -f "$r/node.json.tmp" "$r/node.json"'].join('\n');
}

/** Writes one file of the node's TLS directory (`nodes/<id>/tls/<name>`) from stdin, readable by its owner only. */
export function writeTlsFileScript(root: string, id: string, name: string): string {
  return [
    'set -e', `d=${q(root)}/nodes/${q(id)}/tls`, 'umask 077', 'mkdir -p "$d"', `cat >"$d/"${q(`${name}.tmp`)}`, `mv -f "$d/"${q(`${name}.tmp`)} "$d/"${q(name)}`,
  ].join('\n');
}

/**
 * Starts the agent detached: its own session and process group (setsid), stdin from /dev/null,
 * output appended to the sandbox's agent.log, the token read from the first line of stdin into
 * the environment, mutual TLS from the sandbox's tls/ directory (see writeTlsFileScript). The agent's pid is written to agent.pid by the shell that becomes the agent.
 */
export function startScript(o: { root: string; id: string; node: string; port: number; address: string; graphitePort?: number }): string {
  return [
    'set -e',
    `r=${q(o.root)}`,
    `d="$r/nodes/"${q(o.id)}`,
    'mkdir -p "$d"',
    'IFS= read -r NUBIS_AGENT_TOKEN',
    `NUBIS_NODE_ID=${q(o.id)}`,
    'export NUBIS_AGENT_TOKEN NUBIS_NODE_ID',
    'rm -f "$r/agent.pid"',
    'cd "$d"',
    `setsid /bin/sh -c 'echo $$ >"$1/agent.pid"; exec "$2" "$1/lib/agent/main.js" --sandbox "$3" --port "$4" --host "$5" --tls-dir "$3/tls" \${6:+"$6"}' sh "$r" ${q(o.node)} "$d" ${q(o.port)} ${q(o.address)} ${o.graphitePort === undefined ? "''" : q(`--graphite-port=${o.graphitePort}`)} </dev/null >>"$d/agent.log" 2>&1 &`,
  ].join('\n');
}

/**
 * Stops every process of the node: those whose environment carries NUBIS_NODE_ID=<id> (the
 * agent and everything it started) and the members of process group `pgid` when one of them
 * carries it (so a recycled pgid is never signalled). SIGTERM, up to `graceMs`, then SIGKILL.
 * Also the processes the agent recorded in `nodes/<id>/processes` (pid and start time, used
 * where the host has no cgroup v2). Then everything left in the node's cgroup v2 cage, when its agent recorded one in
 * `nodes/<id>/cgroup` (daemons that left the session and cleared their environment): a path
 * ending in `/nubis/<id>` is killed (cgroup.kill, else SIGKILL per pid) and removed.
 * Prints `left=<pids>`: empty means nothing survived.
 */
export function stopScript(root: string, id: string, pgid: number | undefined, graceMs: number): string {
  return [
    `r=${q(root)}; id=${q(id)}; pg=${q(pgid ?? 0)}; rounds=${Math.max(1, Math.ceil(graceMs / 100))}`,
    'pids() {',
    '  m=$(grep -lzx "NUBIS_NODE_ID=$id" /proc/[0-9]*/environ 2>/dev/null | sed "s#^/proc/\\([0-9]*\\)/environ#\\1#" | tr "\\n" " ")',
    '  rec="$r/nodes/$id/processes"',
    '  if [ -f "$rec" ]; then while read -r p st; do [ -n "$p" ] && [ "$(cut -d")" -f2 "/proc/$p/stat" 2>/dev/null | cut -d" " -f21)" = "$st" ] && m="$m $p"; done <"$rec"; fi',
    '  grp=; ours=0',
    '  if [ "$pg" -gt 1 ]; then',
    '    for s in /proc/[0-9]*/stat; do',
    '      { read -r l <"$s"; } 2>/dev/null || continue; rest=${l##*) }; set -- $rest',
    '      [ "$3" = "$pg" ] || continue',
    '      p=${s#/proc/}; p=${p%/stat}; grp="$grp $p"',
    '      case " $m " in *" $p "*) ours=1 ;; esac',
    '    done',
    '  fi',
    '  [ $ours = 1 ] && m="$m $grp"',
    '  out=; for p in $m; do [ "$p" = $$ ] && continue; st=$(cut -d")" -f2 "/proc/$p/stat" 2>/dev/null | cut -d" " -f2); [ -n "$st" ] && [ "$st" != Z ] && out="$out $p"; done',
    '  echo $out',
    '}',
    'left=$(pids); [ -z "$left" ] || kill -TERM $left 2>/dev/null || true',
    'i=0; while [ -n "$left" ] && [ $i -lt $rounds ]; do sleep 0.1; i=$((i + 1)); left=$(pids); done',
    'j=0; while [ -n "$left" ] && [ $j -lt 50 ]; do kill -KILL $left 2>/dev/null || true; sleep 0.1; j=$((j + 1)); left=$(pids); done',
    'cg=$(cat "$r/nodes/$id/cgroup" 2>/dev/null || true)',
    'case $cg in *..*) cg= ;; /*/nubis/"$id") ;; *) cg= ;; esac',
    'caged() { cat "$cg/cgroup.procs" "$cg"/*/cgroup.procs 2>/dev/null | tr "\n" " "; }',
    'if [ -n "$cg" ] && [ -f "$cg/cgroup.procs" ]; then',
    '  k=0; c=$(caged)',
    '  while [ -n "$c" ] && [ $k -lt 50 ]; do',
    '    [ -f "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null',
    '    kill -KILL $c 2>/dev/null || true; sleep 0.1; k=$((k + 1)); c=$(caged)',
    '  done',
    '  for sub in "$cg"/*/; do [ -d "$sub" ] && rmdir "$sub" 2>/dev/null; done; rmdir "$cg" 2>/dev/null || true',
    '  left="$left $c"',
    'fi',
    'left=$(echo $left)',
    'echo "left=$left"',
  ].join('\n');
}

/**
 * Removes what the driver put under remoteRoot for this node; the shared parts (lib, runtime,
 * node.json, agent.pid) only when node.json is this node's or absent. Then removes the
 * directories of remoteRoot the driver created (up to `createdTop`) if they are empty.
 */
export function cleanupScript(root: string, id: string, createdTop: string | undefined): string {
  return [
    `r=${q(root)}; id=${q(id)}; top=${q(createdTop ?? '')}`,
    'rm -rf "$r/nodes/$id"',
    'if [ ! -f "$r/node.json" ] || grep -q "\\"id\\":\\"$id\\"" "$r/node.json"; then',
    '  rm -rf "$r/lib" "$r/runtime" "$r/node.json" "$r/node.json.tmp" "$r/agent.pid"',
    '  rmdir "$r/nodes" 2>/dev/null || true',
    'fi',
    'if [ -n "$top" ]; then d=$r; while rmdir "$d" 2>/dev/null; do [ "$d" = "$top" ] && break; d=$(dirname "$d"); done; fi',
    'if [ -e "$r/nodes/$id" ]; then echo "left=$r/nodes/$id"; else echo left=; fi',
  ].join('\n');
}

/** The last lines of the node's agent.log, for error messages. */
export function agentLogScript(root: string, id: string): string {
  return `tail -n 5 ${q(root)}/nodes/${q(id)}/agent.log 2>/dev/null || true`;
}

/** Parses `key=value` lines (the first `=` splits). */
export function parseKv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}
