#!/usr/bin/env node
'use strict';
// hourglass-devserver with the official Temporal TypeScript SDK worker.
//
// One run: a fresh dev server (temp dir, SQLite file database), one official
// TS Worker (NativeConnection) in a child Node process, and a Client
// (Connection) in this process. Workload "single noop activity": the workflow
// calls one activity that returns at once, then returns. W warm-up workflows
// (not counted), then N workflows with C in flight. Reports workflows/s,
// start→result latency (client side: before client.workflow.start until
// handle.result() resolves), and the CPU seconds of the dev server and of both
// Node processes during the measured window (/proc/<pid>/stat utime+stime).
//
// Usually run through bench/devserver/run.sh; `node bench/devserver/bench.js --help`.
//
// The SDK is the one pinned by tests/conformance/package-lock.json: modules are
// resolved from tests/conformance/node_modules (no dependency of our own).

const { spawn, fork, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { createRequire } = require('node:module');
const { CLK_TCK, cpuTicks, machineTicks, percentile, withTimeout } = require('../lib/proc');

const HERE = __dirname;
const REPO = path.resolve(HERE, '..', '..');
const CONFORMANCE = path.join(REPO, 'tests', 'conformance');
const SDK_MODULES = path.join(CONFORMANCE, 'node_modules');
const sdkRequire = createRequire(path.join(CONFORMANCE, 'package.json'));
/** A path relative to the repository when it is inside it. */
const shown = (p) => {
  const rel = path.relative(REPO, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
};

const NAMESPACE = 'default';
const WORKFLOW_TYPE = 'singleNoopActivity';
const READY_RE = /^hourglass-devserver ready on (127\.0\.0\.1):(\d+)\s*$/;

// ------------------------------------------------------------------ options

const USAGE = `usage: bench.js [options]

  --server PATH         hourglass-devserver binary
                        (default: $HOURGLASS_DEVSERVER or build/bin/hourglass-devserver)
  -n, --workflows N     measured workflows (default 2000; 200 with --profile callgrind)
  -c, --concurrency C   workflows in flight (default 20; 10 with --profile callgrind)
  --warmup W            warm-up workflows, not counted (default 100; 20 with --profile callgrind)
  --fsync               pass --fsync to the server (fsync every commit)
  --profile MODE        none (default), callgrind or perf:
                          callgrind: the server runs under valgrind --tool=callgrind;
                            counters are zeroed after the warm-up and dumped after the
                            measured window; callgrind_annotate (inclusive, self) is printed
                          perf: perf record -g (cpu-clock, dwarf call graphs) attached to the
                            server for the measured window only; perf report is printed
  --keep-tmp            keep the temp dir (dev.db, devserver.log, profiles); always kept
                        with --profile or on failure
  --json-only           print only the JSON line on stdout
  -h, --help`;

function parseArgs(argv) {
  const o = {
    server: process.env.HOURGLASS_DEVSERVER || path.join(REPO, 'build', 'bin', 'hourglass-devserver'),
    workflows: undefined,
    concurrency: undefined,
    warmup: undefined,
    fsync: false,
    profile: 'none',
    keepTmp: false,
    jsonOnly: false,
    role: 'main',
    address: '',
    taskQueue: '',
  };
  const int = (flag, v) => {
    if (!/^\d+$/.test(v || '')) throw new Error(`${flag} takes a non-negative integer (got ${v})`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--server': o.server = next(); break;
      case '-n': case '--workflows': o.workflows = int(a, next()); break;
      case '-c': case '--concurrency': o.concurrency = int(a, next()); break;
      case '--warmup': o.warmup = int(a, next()); break;
      case '--fsync': o.fsync = true; break;
      case '--profile': o.profile = next(); break;
      case '--keep-tmp': o.keepTmp = true; break;
      case '--json-only': o.jsonOnly = true; break;
      case '--role': o.role = next(); break;
      case '--address': o.address = next(); break;
      case '--task-queue': o.taskQueue = next(); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (!['none', 'callgrind', 'perf'].includes(o.profile)) throw new Error(`--profile: none, callgrind or perf`);
  const cg = o.profile === 'callgrind';
  if (o.workflows === undefined) o.workflows = cg ? 200 : 2000;
  if (o.concurrency === undefined) o.concurrency = cg ? 10 : 20;
  if (o.warmup === undefined) o.warmup = cg ? 20 : 100;
  if (o.workflows < 1 || o.concurrency < 1) throw new Error('--workflows and --concurrency must be >= 1');
  return o;
}

// ------------------------------------------------------------------ helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// For deadlines raced against something else: never keeps the process alive.
const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());
let quiet = false;
const T0 = Date.now();
const note = (msg) => {
  if (!quiet) process.stderr.write(`[bench +${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);
};


function which(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------- worker role

async function workerMain(o) {
  const { Worker, NativeConnection, Runtime, DefaultLogger, bundleWorkflowCode } = sdkRequire('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(HERE, 'workflows.js'),
    logger: new DefaultLogger('WARN'),
    // The bench's workflow lives in bench/devserver; @temporalio/workflow is
    // found in the conformance suite's node_modules.
    webpackConfigHook: (config) => {
      config.resolve.modules = [...config.resolve.modules, SDK_MODULES];
      return config;
    },
  });
  const connection = await NativeConnection.connect({ address: o.address });
  const worker = await Worker.create({
    connection,
    namespace: NAMESPACE,
    taskQueue: o.taskQueue,
    workflowBundle: { code },
    activities: { noop: async () => undefined },
  });
  let stopping = false;
  process.on('message', (m) => {
    if (m && m.type === 'stop' && !stopping) {
      stopping = true;
      worker.shutdown();
    }
  });
  process.on('disconnect', () => {
    if (!stopping) {
      stopping = true;
      try {
        worker.shutdown();
      } catch {
        /* already stopping */
      }
    }
  });
  const running = worker.run();
  process.send({ type: 'ready', pid: process.pid });
  await running;
  await connection.close().catch(() => {});
  if (process.connected) process.send({ type: 'stopped' });
  process.exit(0);
}

// ------------------------------------------------------------- dev server

class Server {
  constructor(o, dir) {
    this.o = o;
    this.dir = dir;
    this.dbPath = path.join(dir, 'dev.db');
    this.logPath = path.join(dir, 'devserver.log');
    this.log = fs.openSync(this.logPath, 'a');
    this.stderrLines = [];
    this.partial = '';
  }

  async start() {
    const args = ['--ip', '127.0.0.1', '--port', '0', '--db-filename', this.dbPath, '--log-level', 'warn'];
    if (this.o.fsync) args.push('--fsync');
    let cmd = this.o.server;
    let argv = args;
    if (this.o.profile === 'callgrind') {
      this.callgrindBase = path.join(this.dir, 'callgrind.out');
      cmd = 'valgrind';
      argv = [
        '--tool=callgrind',
        `--callgrind-out-file=${this.callgrindBase}`,
        '--dump-instr=no',
        '--collect-systime=nsec',
        this.o.server,
        ...args,
      ];
    }
    fs.writeSync(this.log, `=== ${cmd} ${argv.join(' ')}\n`);
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stderr.on('data', (chunk) => {
      const text = chunk.toString();
      fs.writeSync(this.log, text);
      const parts = (this.partial + text).split('\n');
      this.partial = parts.pop();
      for (const p of parts) if (this.stderrLines.length < 10000) this.stderrLines.push(p);
    });
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exitedEarly = false;
    this.exited.then(({ code, signal }) => {
      fs.writeSync(this.log, `=== exit code=${code} signal=${signal}\n`);
      if (!this.stopping) {
        this.exitedEarly = true;
        console.error(`[bench] hourglass-devserver exited unexpectedly (code=${code}, signal=${signal}); log: ${this.logPath}`);
      }
    });
    const spawnError = new Promise((_, reject) => proc.once('error', reject));
    const ready = new Promise((resolve) => {
      readline.createInterface({ input: proc.stdout }).on('line', (line) => {
        fs.writeSync(this.log, `[stdout] ${line}\n`);
        const m = READY_RE.exec(line);
        if (m) resolve(`${m[1]}:${m[2]}`);
      });
    });
    const timeoutMs = this.o.profile === 'callgrind' ? 300000 : 30000;
    this.address = await Promise.race([
      ready,
      spawnError,
      this.exited.then(({ code, signal }) => {
        throw new Error(`hourglass-devserver exited before its ready line (code=${code}, signal=${signal})`);
      }),
      deadline(timeoutMs).then(() => {
        throw new Error(`no ready line within ${timeoutMs} ms`);
      }),
    ]);
    this.pid = proc.pid;
    return this.address;
  }

  async stop() {
    if (!this.proc) return null;
    this.stopping = true;
    this.proc.kill('SIGTERM');
    const graceMs = this.o.profile === 'callgrind' ? 600000 : 15000;
    let status = await Promise.race([this.exited, deadline(graceMs).then(() => null)]);
    if (!status) {
      this.proc.kill('SIGKILL');
      status = { ...(await this.exited), killed: true };
    }
    return status;
  }

  /** stderr lines that are not valgrind's own (==pid== …). */
  serverLines() {
    const lines = this.partial ? [...this.stderrLines, this.partial] : this.stderrLines;
    return lines.filter((l) => l.trim() !== '' && !/^==\d+==/.test(l));
  }
}

// ---------------------------------------------------------------- profiles

function callgrindControl(pid, args) {
  return execFileSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8', timeout: 600000 });
}

function callgrindFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('callgrind.out'))
    .map((f) => path.join(dir, f));
}

function summariseCallgrind(dump, dir) {
  // A dump taken while calls are in progress (event loops, worker threads)
  // records them as "calls=0 …"; callgrind_annotate 3.19 then books their
  // inclusive cost as the caller's self cost (start_thread and
  // EventLoop::RunForever came out at 55 % "self"). Counting those calls once
  // gives the right self costs; the call counts are not shown.
  const file = `${dump}.fixed`;
  fs.writeFileSync(file, fs.readFileSync(dump, 'utf8').replace(/^calls=0 /gm, 'calls=1 '));
  const out = { annotated: file };
  for (const [name, inclusive] of [
    ['inclusive', 'yes'],
    ['self', 'no'],
  ]) {
    const text = execFileSync(
      'callgrind_annotate',
      [`--inclusive=${inclusive}`, '--threshold=99', '--show=Ir', '--auto=no', file],
      { encoding: 'utf8', maxBuffer: 256 << 20 },
    );
    const target = path.join(dir, `callgrind_annotate.${name}.txt`);
    fs.writeFileSync(target, text);
    out[name] = target;
  }
  return out;
}

function topLines(file, n) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => /file:function/.test(l));
  const header = lines.slice(0, start + 2).filter((l) => /PROGRAM TOTALS|Ir\s/.test(l));
  const body = lines.slice(start + 1).filter((l) => l.trim() !== '').slice(0, n);
  return [...header, ...body].join('\n');
}

function summarisePerf(dataFile, dir) {
  const out = {};
  for (const [name, flag] of [
    ['children', '--children'],
    ['self', '--no-children'],
  ]) {
    const text = execFileSync(
      'perf',
      ['report', '-i', dataFile, '--stdio', flag, '-g', 'none', '--percent-limit', '0.5', '--sort', 'symbol'],
      { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const target = path.join(dir, `perf_report.${name}.txt`);
    fs.writeFileSync(target, text);
    out[name] = target;
  }
  return out;
}

// -------------------------------------------------------------- main role

async function runBatch(client, o, count, concurrency, tag) {
  const latencies = new Array(count);
  const startOffsets = new Array(count);
  const errors = [];
  let nextIndex = 0;
  const t0 = process.hrtime.bigint();
  async function lane() {
    for (;;) {
      const i = nextIndex++;
      if (i >= count) return;
      const begin = process.hrtime.bigint();
      try {
        const handle = await client.workflow.start(WORKFLOW_TYPE, {
          taskQueue: o.taskQueue,
          workflowId: `${tag}-${i}`,
          args: [],
        });
        const result = await handle.result();
        if (result !== 'done') throw new Error(`unexpected result ${JSON.stringify(result)}`);
      } catch (err) {
        errors.push({ i, message: String((err && err.message) || err) });
        if (errors.length > 20) throw new Error(`too many workflow errors; first: ${errors[0].message}`);
      }
      const end = process.hrtime.bigint();
      latencies[i] = Number(end - begin) / 1e6;
      startOffsets[i] = Number(begin - t0) / 1e6;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { latencies, startOffsets, errors, wallMs };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.role === 'worker') return workerMain(o);
  quiet = o.jsonOnly;

  const server = path.resolve(o.server);
  try {
    fs.accessSync(server, fs.constants.X_OK);
  } catch {
    throw new Error(`hourglass-devserver binary not found or not executable: ${server}`);
  }
  o.server = server;
  if (o.profile === 'callgrind' && !(which('valgrind') && which('callgrind_control') && which('callgrind_annotate'))) {
    throw new Error('--profile callgrind needs valgrind (apt-get install valgrind)');
  }
  if (o.profile === 'perf' && !which('perf')) throw new Error('--profile perf needs perf (apt-get install linux-perf)');

  const { Client, Connection } = sdkRequire('@temporalio/client');
  const sdkVersion = sdkRequire('@temporalio/client/package.json').version;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hourglass-bench-devserver-'));
  const tag = `bench-${process.pid}-${Date.now().toString(36)}`;
  o.taskQueue = `${tag}-tq`;
  const srv = new Server(o, dir);
  let worker = null;
  let connection = null;
  let failed = true;
  let perfProc = null;
  const loadStart = os.loadavg();
  try {
    note(`starting ${shown(server)}${o.fsync ? ' --fsync' : ''}` +
      `${o.profile !== 'none' ? ` under ${o.profile}` : ''} in ${dir}`);
    const address = await srv.start();
    note(`server ready on ${address} (pid ${srv.pid}); starting the TS worker (bundling the workflow)`);

    worker = fork(__filename, ['--role', 'worker', '--address', address, '--task-queue', o.taskQueue], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const workerExited = new Promise((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })));
    const workerReady = new Promise((resolve) =>
      worker.on('message', (m) => {
        if (m && m.type === 'ready') resolve(m.pid);
      }),
    );
    await withTimeout(
      Promise.race([
        workerReady,
        workerExited.then(({ code, signal }) => {
          throw new Error(`the worker process exited during start-up (code=${code}, signal=${signal})`);
        }),
      ]),
      o.profile === 'callgrind' ? 300000 : 60000,
      'worker start-up',
    );
    const workerPid = worker.pid;

    connection = await Connection.connect({ address, connectTimeout: '10s' });
    const client = new Client({ connection, namespace: NAMESPACE });

    if (o.warmup > 0) {
      note(`warm-up: ${o.warmup} workflows, ${Math.min(o.concurrency, o.warmup)} in flight`);
      const w = await runBatch(client, o, o.warmup, o.concurrency, `${tag}-warm`);
      if (w.errors.length) throw new Error(`warm-up: ${w.errors.length} workflow(s) failed; first: ${w.errors[0].message}`);
    }

    if (o.profile === 'callgrind') {
      note('callgrind: zeroing the counters');
      callgrindControl(srv.pid, ['-z']);
    } else if (o.profile === 'perf') {
      o.perfData = path.join(dir, 'perf.data');
      perfProc = spawn(
        'perf',
        ['record', '-e', 'cpu-clock', '-F', '999', '--call-graph', 'dwarf', '-o', o.perfData, '-p', String(srv.pid)],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      perfProc.stderr.on('data', (c) => fs.appendFileSync(path.join(dir, 'perf-record.log'), c));
      o.perfExited = new Promise((resolve) => perfProc.once('exit', (code, signal) => resolve({ code, signal })));
      await sleep(1000); // let perf attach to every thread
    }

    note(`measuring: ${o.workflows} workflows, ${o.concurrency} in flight`);
    const cpu0 = { server: cpuTicks(srv.pid), worker: cpuTicks(workerPid), client: cpuTicks(process.pid), machine: machineTicks() };
    const m = await runBatch(client, o, o.workflows, o.concurrency, `${tag}-m`);
    const cpu1 = { server: cpuTicks(srv.pid), worker: cpuTicks(workerPid), client: cpuTicks(process.pid), machine: machineTicks() };
    const loadEnd = os.loadavg();

    let profile = null;
    if (o.profile === 'callgrind') {
      note('callgrind: dumping the measured window');
      callgrindControl(srv.pid, ['--dump=measured']);
    } else if (o.profile === 'perf') {
      perfProc.kill('SIGINT');
      await withTimeout(o.perfExited, 120000, 'perf record to stop');
    }

    // Tear down: worker, client, server.
    note('measured window done; stopping the worker');
    worker.send({ type: 'stop' });
    await withTimeout(workerExited, 60000, 'worker shutdown').catch((err) => {
      note(`${err.message}; SIGKILL`);
      worker.kill('SIGKILL');
    });
    worker = null;
    note('worker stopped');
    await connection.close().catch(() => {});
    connection = null;
    note('stopping the server');
    const status = await srv.stop();
    note(`server stopped: ${JSON.stringify(status)}`);

    if (o.profile === 'callgrind') {
      const dumps = callgrindFiles(dir).filter((f) => /\.\d+$/.test(f)); // explicit dumps: <base>.<n>
      if (dumps.length === 0) throw new Error(`no callgrind dump in ${dir}`);
      profile = { mode: 'callgrind', file: dumps[0], ...summariseCallgrind(dumps[0], dir) };
    } else if (o.profile === 'perf') {
      profile = { mode: 'perf', file: o.perfData, ...summarisePerf(o.perfData, dir) };
    }

    // --------------------------------------------------------------- figures
    const ticks = (k) => cpu1[k] - cpu0[k];
    const cpuS = {
      server: ticks('server') / CLK_TCK,
      worker: ticks('worker') / CLK_TCK,
      client: ticks('client') / CLK_TCK,
    };
    cpuS.node = cpuS.worker + cpuS.client;
    cpuS.total = cpuS.server + cpuS.node;
    const machineBusyS = (cpu1.machine.busy - cpu0.machine.busy) / CLK_TCK;
    cpuS.machine_other = Math.max(0, machineBusyS - cpuS.total);
    const wallS = m.wallMs / 1000;
    const nOk = o.workflows - m.errors.length;
    const lat = m.latencies.filter((x) => x !== undefined).sort((a, b) => a - b);
    const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
    const perWf = (s) => round((s * 1000) / o.workflows, 3);
    const slowest = m.latencies
      .map((ms, i) => ({ i, ms: round(ms, 1), at_s: round(m.startOffsets[i] / 1000, 2) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5);
    const serverLines = srv.serverLines();
    const result = {
      bench: 'devserver_ts_single_noop_activity',
      date: new Date().toISOString(),
      server: shown(server),
      fsync: o.fsync,
      profile: o.profile,
      sdk: `@temporalio/* ${sdkVersion}`,
      node: process.version,
      processes: 'server + Node worker process + Node client process',
      vcpus: os.cpus().length,
      workflows: o.workflows,
      concurrency: o.concurrency,
      warmup: o.warmup,
      errors: m.errors.length,
      wall_s: round(wallS, 3),
      workflows_per_s: round(nOk / wallS, 1),
      latency_ms: {
        p50: round(percentile(lat, 0.5)),
        p90: round(percentile(lat, 0.9)),
        p99: round(percentile(lat, 0.99)),
        max: round(lat[lat.length - 1]),
      },
      slowest,
      cpu_s: Object.fromEntries(Object.entries(cpuS).map(([k, v]) => [k, round(v, 3)])),
      cpu_ms_per_workflow: {
        server: perWf(cpuS.server),
        worker: perWf(cpuS.worker),
        client: perWf(cpuS.client),
        node: perWf(cpuS.node),
        total: perWf(cpuS.total),
      },
      server_cpu_share: round(cpuS.total > 0 ? cpuS.server / cpuS.total : NaN, 3),
      machine_busy_s: round(machineBusyS, 3),
      machine_cpu_utilisation: round(machineBusyS / (wallS * os.cpus().length), 3),
      loadavg_start: loadStart.map((x) => round(x)),
      loadavg_end: loadEnd.map((x) => round(x)),
      server_exit: status,
      server_stderr_lines: serverLines.length,
      tmp_dir: dir,
    };
    if (profile) result.profile_files = profile;

    if (!o.jsonOnly) printReport(result, serverLines, m.errors, profile);
    console.log(JSON.stringify(result));
    failed = m.errors.length > 0 || srv.exitedEarly;
    if (failed) process.exitCode = 1;
  } finally {
    if (perfProc && perfProc.exitCode === null) perfProc.kill('SIGINT');
    if (worker) worker.kill('SIGKILL');
    if (connection) await connection.close().catch(() => {});
    if (srv.proc && srv.proc.exitCode === null && srv.proc.signalCode === null) {
      srv.stopping = true;
      srv.proc.kill('SIGKILL');
    }
    if (failed || o.keepTmp || o.profile !== 'none') {
      note(`kept ${dir} (dev.db, devserver.log${o.profile !== 'none' ? ', profile' : ''})`);
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

function printReport(r, serverLines, errors, profile) {
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
  const pct = (x) => `${(100 * x).toFixed(1)} %`;
  const out = [];
  out.push('');
  out.push(`hourglass-devserver + official TS worker (${r.sdk}, Node ${r.node}): single noop activity`);
  out.push(
    `server ${r.server}${r.fsync ? ' --fsync' : ''}${r.profile !== 'none' ? ` under ${r.profile}` : ''}; ` +
      `${r.workflows} workflows (+${r.warmup} warm-up), ${r.concurrency} in flight; ${r.vcpus} vCPU; ` +
      `load average at start ${r.loadavg_start.join(' ')}`,
  );
  if (r.profile !== 'none') {
    out.push(`NOTE: the server ran under ${r.profile}; the figures below are not comparable with a plain run`);
  }
  out.push('');
  out.push('| figure | value |');
  out.push('|---|---|');
  out.push(`| workflows/s | ${f(r.workflows_per_s)} |`);
  out.push(`| wall time (measured window) | ${f(r.wall_s, 2)} s |`);
  out.push(`| start→result p50 | ${f(r.latency_ms.p50)} ms |`);
  out.push(`| start→result p90 | ${f(r.latency_ms.p90)} ms |`);
  out.push(`| start→result p99 | ${f(r.latency_ms.p99)} ms |`);
  out.push(`| start→result max | ${f(r.latency_ms.max)} ms |`);
  out.push(`| failed workflows | ${r.errors} |`);
  out.push('');
  out.push('| process | CPU s | CPU ms / workflow | share of benchmark CPU |');
  out.push('|---|---|---|---|');
  const row = (name, k) =>
    out.push(`| ${name} | ${f(r.cpu_s[k], 2)} | ${f(r.cpu_ms_per_workflow[k], 2)} | ${pct(r.cpu_s[k] / r.cpu_s.total)} |`);
  row('dev server', 'server');
  row('Node worker', 'worker');
  row('Node client', 'client');
  row('Node total', 'node');
  row('all three', 'total');
  out.push(
    `| rest of the machine (not in the share) | ${f(r.cpu_s.machine_other, 2)} | | |`,
  );
  out.push('');
  out.push(
    `machine CPU busy ${f(100 * r.machine_cpu_utilisation)} % of ${r.vcpus} vCPU during the window; ` +
      `load average at end ${r.loadavg_end.join(' ')}`,
  );
  out.push(`slowest workflows (ms, started at s into the window): ${r.slowest.map((s) => `${s.ms}@${s.at_s}`).join(', ')}`);
  if (errors.length) {
    out.push(`FAILED workflows: ${errors.length}; first: ${errors[0].message}`);
  }
  if (serverLines.length) {
    out.push(`server stderr: ${serverLines.length} line(s) (log: ${path.join(r.tmp_dir, 'devserver.log')}); first ones:`);
    for (const l of serverLines.slice(0, 10)) out.push(`  ${l}`);
  } else {
    out.push('server stderr: nothing (--log-level warn)');
  }
  out.push(`server exit: ${JSON.stringify(r.server_exit)}`);
  if (profile) {
    out.push('');
    if (profile.mode === 'callgrind') {
      out.push(`callgrind (measured window only): ${profile.file}`);
      out.push('--- top inclusive (callgrind_annotate --inclusive=yes) ---');
      out.push(topLines(profile.inclusive, 40));
      out.push('--- top self (callgrind_annotate --inclusive=no) ---');
      out.push(topLines(profile.self, 30));
      out.push(`full listings: ${profile.inclusive}, ${profile.self}`);
    } else {
      out.push(`perf (measured window only): ${profile.file}`);
      const head = (file, n) =>
        fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.trim() && !l.startsWith('#'))
          .slice(0, n)
          .map((l) => l.trimEnd())
          .join('\n');
      out.push('--- top with children (perf report --children) ---');
      out.push(head(profile.children, 40));
      out.push('--- top self (perf report --no-children) ---');
      out.push(head(profile.self, 30));
      out.push(`full listings: ${profile.children}, ${profile.self}`);
    }
  }
  out.push('');
  console.log(out.join('\n'));
}

main().then(
  // Exit explicitly: the SDK's connections may keep handles open.
  () => process.exit(process.exitCode || 0),
  (err) => {
    console.error(`[bench] ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
