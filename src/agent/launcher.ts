/**
 * Job processes forked by a small resident launcher instead of by the agent: a Perl program
 * (perl-base is an Essential package on Debian; elsewhere the spawner threads of ./spawner.ts
 * take over) that writes the job's script and output file, forks, puts the child in its own
 * session, execs it and reports its pid, then its wait status. Forking the agent itself costs
 * the agent a page-table copy of its whole heap per job and copy-on-write faults afterwards
 * (about 1 ms of kernel time per job for a 90 MB Node process, against about 0.2 ms for the
 * launcher), and Node's spawn waits for the child's exec.
 *
 * Protocol: to the launcher, `<byte length>\n<fields joined by NUL>` (id, cwd, output, dir to
 * make, script path, script text, file, argument count, arguments…, environment `K=V`…); from
 * it, lines `p <id> <pid>` (started), `f <id> <why>` (not started), `x <pid> c <code>` or
 * `x <pid> s <signal number>` (exited).
 *
 * Failure meaning: a launcher that cannot be started, or that dies, is replaced by the spawner
 * threads for later jobs; the jobs it had started are still watched (by polling their pids,
 * their exit status then unknown), so none is left running forever in the agent's books.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createSpawner, type Spawner, type SpawnSpec } from './spawner.js';

const LAUNCHER_PERL = String.raw`
use strict; use POSIX (); use Fcntl qw(O_WRONLY O_CREAT O_TRUNC O_APPEND F_GETFL F_SETFL O_NONBLOCK);
binmode STDIN; binmode STDOUT; $| = 1;
pipe(my $sr, my $sw) or die "pipe: $!";
fcntl($sw, F_SETFL, fcntl($sw, F_GETFL, 0) | O_NONBLOCK);
$SIG{CHLD} = sub { syswrite($sw, 'x') };
sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $st = $?;
    print(($st & 127) ? "x $pid s " . ($st & 127) . "\n" : "x $pid c " . ($st >> 8) . "\n");
  }
}
sub mkdirp {
  my ($d) = @_;
  return if $d eq '' || -d $d;
  my ($p) = $d =~ m{^(.*)/[^/]*$};
  mkdirp($p) if defined $p && $p ne '';
  mkdir($d) or -d $d or die "cannot make $d: $!\n";
}
sub start {
  my @f = split /\0/, $_[0], -1;
  my ($id, $cwd, $out, $dir, $spath, $stext, $file, $nargs) = splice(@f, 0, 8);
  my @args = splice(@f, 0, $nargs);
  my $o;
  my $ok = eval {
    mkdirp($dir);
    if ($spath ne '') {
      open(my $fh, '>', $spath) or die "cannot write $spath: $!\n";
      print $fh $stext;
      close($fh) or die "cannot write $spath: $!\n";
      chmod(0755, $spath);
    }
    sysopen($o, $out, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644) or die "cannot open $out: $!\n";
    1;
  };
  if (!$ok) { my $e = $@; $e =~ s/\s+$//; $e =~ s/\n/ /g; print "f $id $e\n"; return; }
  my $pid = fork();
  if (!defined $pid) { print "f $id cannot fork: $!\n"; close($o); return; }
  if ($pid == 0) {
    $SIG{CHLD} = 'DEFAULT';
    POSIX::setsid();
    open(STDIN, '<', '/dev/null');
    POSIX::dup2(fileno($o), 1);
    POSIX::dup2(fileno($o), 2);
    chdir($cwd) or do { print STDERR "nubis-agent: cannot run the job: $cwd: $!\n"; POSIX::_exit(127); };
    %ENV = ();
    for (@f) { my $i = index($_, '='); $ENV{substr($_, 0, $i)} = substr($_, $i + 1) if $i > 0; }
    exec { $file } $file, @args;
    print STDERR "nubis-agent: cannot run the job: $file: $!\n";
    POSIX::_exit(127);
  }
  close($o);
  print "p $id $pid\n";
}
my $buf = '';
while (1) {
  reap();
  my $rin = '';
  vec($rin, fileno(STDIN), 1) = 1;
  vec($rin, fileno($sr), 1) = 1;
  my $n = select(my $rout = $rin, undef, undef, undef);
  next if $n <= 0;
  sysread($sr, my $junk, 4096) if vec($rout, fileno($sr), 1);
  next unless vec($rout, fileno(STDIN), 1);
  my $r = sysread(STDIN, $buf, 1 << 20, length $buf);
  next if !defined $r;
  exit 0 if $r == 0;
  while ($buf =~ /^(\d+)\n/) {
    my $h = length($1) + 1;
    my $len = $1;
    last if length($buf) < $h + $len;
    start(substr($buf, $h, $len));
    substr($buf, 0, $h + $len) = '';
  }
}
`;

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

interface Request {
  id: number;
  spec: SpawnSpec;
  resolve(pid: number): void;
  reject(e: Error): void;
  pid?: number;
}

class LauncherSpawner implements Spawner {
  private proc?: ChildProcess;
  private broken = false;
  private closed = false;
  private nextId = 0;
  private readonly requests = new Map<number, Request>();
  private readonly byPid = new Map<number, Request>();
  private fallback?: Spawner;
  private buffer = '';
  private watch?: NodeJS.Timeout;

  constructor(private readonly perl: string, private readonly threads: number | undefined, private readonly log: (line: string) => void) {}

  start(spec: SpawnSpec): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the spawner is closed'));
    if (this.broken) return this.threadsSpawner().start(spec);
    const proc = this.launcher();
    const id = ++this.nextId;
    // a job has one directory to make and one file to write (its script, mode 0755)
    const fields = [String(id), spec.cwd, spec.output, spec.mkdirs?.[0] ?? '', spec.files?.[0]?.path ?? '', spec.files?.[0]?.text ?? '', spec.file, String(spec.args.length), ...spec.args,
      ...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`)];
    const payload = Buffer.from(fields.join('\0'));
    return new Promise<number>((resolve, reject) => {
      this.requests.set(id, { id, spec, resolve, reject });
      if (this.requests.size === 1) proc.ref();
      proc.stdin!.write(Buffer.concat([Buffer.from(`${payload.length}\n`), payload]));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watch);
    // its jobs go on; the launcher ends when its input does
    this.proc?.stdin?.end();
    this.proc?.unref();
    await this.fallback?.close();
  }

  private threadsSpawner(): Spawner {
    this.fallback ??= createSpawner({ ...(this.threads === undefined ? {} : { size: this.threads }), log: this.log });
    return this.fallback;
  }

  private launcher(): ChildProcess {
    if (this.proc) return this.proc;
    const proc = spawn(this.perl, ['-e', LAUNCHER_PERL], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.unref();
    for (const s of [proc.stdin!, proc.stdout!, proc.stderr!]) (s as unknown as { unref?: () => void }).unref?.();
    proc.stdin!.on('error', () => {});
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => this.onOutput(d));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => this.log(`job launcher: ${d.trim()}`));
    proc.once('error', (e) => this.onGone(`cannot start the job launcher (${this.perl}): ${e.message}`));
    proc.once('exit', (code, signal) => this.onGone(`the job launcher exited (${signal ?? code})`));
    return proc;
  }

  private onOutput(d: string): void {
    this.buffer += d;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const [kind, a = '', b = '', c = ''] = line.split(' ');
      if (kind === 'p') {
        const r = this.requests.get(Number(a));
        if (!r) continue;
        r.pid = Number(b);
        this.byPid.set(r.pid, r);
        r.resolve(r.pid);
      } else if (kind === 'f') {
        const r = this.requests.get(Number(a));
        if (!r) continue;
        this.done(r);
        r.reject(new Error(line.slice(3 + a.length)));
      } else if (kind === 'x') {
        const r = this.byPid.get(Number(a));
        if (!r) continue;
        this.byPid.delete(Number(a));
        this.done(r);
        r.spec.onExit(b === 'c' ? Number(c) : null, b === 's' ? (SIGNAL_NAMES.get(Number(c)) ?? null) : null);
      }
    }
  }

  private done(r: Request): void {
    this.requests.delete(r.id);
    if (this.requests.size === 0) this.proc?.unref();
  }

  /** The launcher is gone: later jobs go to the threads; what it started is watched by pid. */
  private onGone(why: string): void {
    if (this.broken) return;
    this.broken = true;
    if (!this.closed) this.log(`${why}; job processes are started by spawner threads from now on`);
    for (const [id, r] of [...this.requests]) {
      if (r.pid !== undefined) continue;
      this.requests.delete(id);
      if (this.closed) r.reject(new Error('the spawner is closed'));
      else this.threadsSpawner().start(r.spec).then(r.resolve, r.reject);
    }
    if (this.byPid.size === 0 || this.closed) return;
    this.watch = setInterval(() => {
      for (const [pid, r] of [...this.byPid]) {
        if (alive(pid)) continue;
        this.byPid.delete(pid);
        this.done(r);
        r.spec.onExit(null, null);
      }
      if (this.byPid.size === 0) clearInterval(this.watch);
    }, 250);
  }
}

/** Whether `pid` still runs (a zombie nobody reaps does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The job spawner: the Perl launcher when a `perl` is found (NUBIS_AGENT_LAUNCHER=threads, or
 * no perl: the spawner threads).
 */
export function createJobSpawner(o: { threads?: number; log?: (line: string) => void; perl?: string } = {}): Spawner {
  const log = o.log ?? (() => {});
  const perl = o.perl ?? ['/usr/bin/perl', '/bin/perl'].find((p) => existsSync(p));
  if (!perl || process.env['NUBIS_AGENT_LAUNCHER'] === 'threads') return createSpawner({ ...(o.threads === undefined ? {} : { size: o.threads }), log });
  return new LauncherSpawner(perl, o.threads, log);
}
