#!/usr/bin/env node
'use strict';
// Hourglass's worker against the official Temporal TypeScript SDK worker, in
// one run, against one hourglass-devserver (see BENCHMARKS.md).
//
// Contenders, each on a task queue of its own, one after another against the
// SAME dev server process (only the worker side is started and stopped):
//   thread   hourglass-supervisor (target = the dev server) running
//            hourglass-workerproc, activities on executor threads
//   process  the same with `isolation = "process"` (a process per attempt)
//   ts       the official TS SDK Worker (NativeConnection) in a child Node process
// Workloads (the same KitchenSink input for both sides; workflows.js mirrors
// workerproc/samples/kitchen_sink.cc):
//   noop     one noop activity, then return
//   ten      ten sequential noop activities, a timer, a signal (sent by the
//            client right after the start), then return
// One client (TS SDK Client, this process) starts M workflows with C in
// flight and awaits each result. Per contender and workload: workflows/s,
// start→result p50/p99, CPU per workflow of the worker side (utime+stime+
// cutime+cstime from /proc of every process of the tree, so executors reaped
// by their worker count too; for TS the Node worker process), the dev
// server's and the client's CPU apart. Then memory per cached workflow: the
// worker side's RSS before and after K workflows wait on a signal, / K.
// Rounds alternate the order (thread process ts, then ts process thread, …).
//
// Usually run through bench/worker_vs_ts/run.sh; `--help` for the options.

const { spawn, fork, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { createRequire } = require('node:module');
const { CLK_TCK, statFields, cpuTicks, machineTicks, percentile, withTimeout } = require('../lib/proc');

const HERE = __dirname;
const REPO = path.resolve(HERE, '..', '..');
const CONFORMANCE = path.join(REPO, 'tests', 'conformance');
const SDK_MODULES = path.join(CONFORMANCE, 'node_modules');
const sdkRequire = createRequire(path.join(CONFORMANCE, 'package.json'));
const NAMESPACE = 'default';
const READY_RE = /^hourglass-devserver ready on (127\.0\.0\.1):(\d+)\s*$/;

const USAGE = `usage: bench.js [options]

  --bin-dir DIR         hourglass-devserver, -supervisor, -bridgehost, -workerproc, hourglass
                        (default: $HOURGLASS_BIN_DIR or build/bin)
  -n, --workflows M     measured workflows per contender and workload (default 2000)
  -c, --concurrency C   workflows in flight (default 50)
  --warmup W            warm-up workflows per contender (W noop + W/10 ten), not counted (default 100)
  -k, --cached K        workflows held open for the memory figure (default 500)
  --rounds R            rounds; the order alternates between rounds (default 2)
  --contenders LIST     comma-separated, of thread,process,ts (default all three)
  --workloads LIST      comma-separated, of noop,ten (default both)
  --timer-ms MS         the "ten" workload's timer (default 50)
  --hg-queue KEY=VALUE  extra [[queue]] setting for the Hourglass contenders, e.g.
                        max_concurrent_workflow_tasks=40 (repeatable; default: none,
                        the worker's defaults, as the TS worker gets the SDK's)
  --smoke               -n 20 -c 5 --warmup 5 -k 20 --rounds 1 (ctest)
  --keep-tmp            keep the temp dir (logs, dev.db)
  --json-only           print only the JSON line on stdout
  -h, --help`;

function parseArgs(argv) {
  const o = {
    binDir: process.env.HOURGLASS_BIN_DIR || path.join(REPO, 'build', 'bin'),
    workflows: 2000, concurrency: 50, warmup: 100, cached: 500, rounds: 2,
    contenders: ['thread', 'process', 'ts'], workloads: ['noop', 'ten'], timerMs: 50,
    keepTmp: false, jsonOnly: false, role: 'main', address: '', taskQueue: '', hgQueue: [],
  };
  const set = new Set();
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
      case '--bin-dir': o.binDir = next(); break;
      case '-n': case '--workflows': o.workflows = int(a, next()); set.add('n'); break;
      case '-c': case '--concurrency': o.concurrency = int(a, next()); set.add('c'); break;
      case '--warmup': o.warmup = int(a, next()); set.add('w'); break;
      case '-k': case '--cached': o.cached = int(a, next()); set.add('k'); break;
      case '--rounds': o.rounds = int(a, next()); set.add('r'); break;
      case '--contenders': o.contenders = next().split(',').filter(Boolean); break;
      case '--workloads': o.workloads = next().split(',').filter(Boolean); break;
      case '--timer-ms': o.timerMs = int(a, next()); break;
      case '--hg-queue': {
        const v = next();
        if (!/^[a-z_]+=\S+$/.test(v)) throw new Error(`--hg-queue takes KEY=VALUE (got ${v})`);
        o.hgQueue.push(v.replace('=', ' = '));
        break;
      }
      case '--smoke': o.smoke = true; break;
      case '--keep-tmp': o.keepTmp = true; break;
      case '--json-only': o.jsonOnly = true; break;
      case '--role': o.role = next(); break;
      case '--address': o.address = next(); break;
      case '--task-queue': o.taskQueue = next(); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (o.smoke) {
    if (!set.has('n')) o.workflows = 20;
    if (!set.has('c')) o.concurrency = 5;
    if (!set.has('w')) o.warmup = 5;
    if (!set.has('k')) o.cached = 20;
    if (!set.has('r')) o.rounds = 1;
  }
  for (const c of o.contenders) if (!CONTENDERS[c]) throw new Error(`--contenders: thread, process or ts (got ${c})`);
  for (const w of o.workloads) if (!WORKLOADS[w]) throw new Error(`--workloads: noop or ten (got ${w})`);
  if (o.workflows < 1 || o.concurrency < 1 || o.rounds < 1) throw new Error('-n, -c and --rounds must be >= 1');
  return o;
}

// ------------------------------------------------------------------ helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());
let quiet = false;
const T0 = Date.now();
const note = (msg) => {
  if (!quiet) process.stderr.write(`[bench +${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);
};
const round = (x, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);


/** pid and every descendant, from /proc (ppid links). */
function processTree(root) {
  const children = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(e);
    if (!f) continue;
    const ppid = Number(f[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(e));
  }
  const out = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    for (const c of children.get(p) || []) stack.push(c);
  }
  return out;
}

function processName(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}


// ---------------------------------------------------------------- workloads

const WORKLOADS = {
  noop: () => ({ input: { actions: [{ activity: 'noop' }, { return: 'done' }] }, signal: null }),
  ten: (o) => ({
    input: {
      signals: ['go'],
      actions: [
        ...Array.from({ length: 10 }, () => ({ activity: 'noop' })),
        { timer: o.timerMs },
        { signal: 'go' },
        { return: 'done' },
      ],
    },
    signal: 'go',
  }),
};
const HOLD_INPUT = { signals: ['go'], actions: [{ signal: 'go' }, { return: 'done' }] };

// ------------------------------------------------------------- TS worker role

async function tsWorkerMain(o) {
  const { Worker, NativeConnection, Runtime, DefaultLogger, bundleWorkflowCode } = sdkRequire('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(HERE, 'workflows.js'),
    logger: new DefaultLogger('WARN'),
    webpackConfigHook: (config) => {
      config.resolve.modules = [...config.resolve.modules, SDK_MODULES];
      return config;
    },
  });
  const connection = await NativeConnection.connect({ address: o.address });
  // SDK defaults throughout (40 workflow-task slots, 100 activity slots, the
  // heap-based workflow cache), as a user gets them.
  const worker = await Worker.create({
    connection,
    namespace: NAMESPACE,
    taskQueue: o.taskQueue,
    workflowBundle: { code },
    activities: { noop: async () => undefined },
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    try {
      worker.shutdown();
    } catch {
      /* already stopping */
    }
  };
  process.on('message', (m) => m && m.type === 'stop' && stop());
  process.on('disconnect', stop);
  const running = worker.run();
  process.send({ type: 'ready', pid: process.pid });
  await running;
  await connection.close().catch(() => {});
  process.exit(0);
}

// ------------------------------------------------------------- dev server

class DevServer {
  constructor(o, dir) {
    this.bin = path.join(o.binDir, 'hourglass-devserver');
    this.dir = dir;
    this.logPath = path.join(dir, 'devserver.log');
  }

  async start() {
    const args = ['--ip', '127.0.0.1', '--port', '0', '--db-filename', path.join(this.dir, 'dev.db'), '--log-level', 'info'];
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(this.bin, args, { stdio: ['ignore', 'pipe', log] });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited.then(({ code, signal }) => {
      if (!this.stopping) {
        this.exitedEarly = true;
        console.error(`[bench] hourglass-devserver exited unexpectedly (code=${code}, signal=${signal}); log: ${this.logPath}`);
      }
    });
    const ready = new Promise((resolve) => {
      readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
        const m = READY_RE.exec(line);
        if (m) resolve(`${m[1]}:${m[2]}`);
      });
    });
    this.address = await Promise.race([
      ready,
      new Promise((_, reject) => this.proc.once('error', reject)),
      this.exited.then(() => {
        throw new Error(`hourglass-devserver exited before its ready line; log: ${this.logPath}`);
      }),
      deadline(30000).then(() => {
        throw new Error('hourglass-devserver: no ready line within 30 s');
      }),
    ]);
    this.pid = this.proc.pid;
    return this.address;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.stopping = true;
    this.proc.kill('SIGTERM');
    if (!(await Promise.race([this.exited, deadline(15000).then(() => null)]))) this.proc.kill('SIGKILL');
  }
}

// --------------------------------------------------------------- contenders

/** hourglass-supervisor with one queue, against the shared dev server. */
class HourglassSide {
  constructor(o, dir, address, taskQueue, isolation) {
    this.o = o;
    this.name = isolation;
    this.taskQueue = taskQueue;
    this.runDir = path.join(dir, `run-${taskQueue.replace(/^.*-/, '')}`);
    this.config = path.join(dir, `${taskQueue}.toml`);
    this.logPath = path.join(dir, `${taskQueue}.supervisor.log`);
    fs.writeFileSync(
      this.config,
      [
        `target = "${address}"`,
        `namespace = "${NAMESPACE}"`,
        `runtime_dir = "${this.runDir}"`,
        '',
        '[[queue]]',
        `name = "${taskQueue}"`,
        `isolation = "${isolation}"`,
        ...o.hgQueue,
        '',
      ].join('\n'),
    );
  }

  ctl(args, timeoutMs = 15000) {
    return execFileSync(path.join(this.o.binDir, 'hourglass'), ['ctl', '--runtime-dir', this.runDir, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  async start() {
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(
      path.join(this.o.binDir, 'hourglass-supervisor'),
      ['--config', this.config, '--bin-dir', this.o.binDir, '--log-level', 'warn'],
      { stdio: ['ignore', log, log] },
    );
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.pid = this.proc.pid;
    const until = Date.now() + 60000;
    for (;;) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`hourglass-supervisor exited during start-up; log: ${this.logPath}`);
      }
      try {
        const pid = this.ctl(['whereis', this.taskQueue], 5000).trim();
        if (/^\d+$/.test(pid)) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > until) throw new Error(`the ${this.name} tree was not ready within 60 s; log: ${this.logPath}`);
      await sleep(100);
    }
  }

  pids() {
    return processTree(this.pid);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const tree = this.pids();
    this.proc.kill('SIGTERM');
    if (!(await Promise.race([this.exited, deadline(30000).then(() => null)]))) {
      note(`${this.name}: the supervisor did not stop within 30 s; SIGKILL to its tree`);
      for (const p of tree) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }

  kill() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    for (const p of this.pids()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

class TsSide {
  constructor(o, dir, address, taskQueue) {
    this.o = o;
    this.name = 'ts';
    this.address = address;
    this.taskQueue = taskQueue;
  }

  async start() {
    this.proc = fork(__filename, ['--role', 'ts-worker', '--address', this.address, '--task-queue', this.taskQueue], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    const ready = new Promise((resolve) => this.proc.on('message', (m) => m && m.type === 'ready' && resolve()));
    await withTimeout(
      Promise.race([
        ready,
        this.exited.then(({ code, signal }) => {
          throw new Error(`the TS worker exited during start-up (code=${code}, signal=${signal})`);
        }),
      ]),
      120000,
      'TS worker start-up',
    );
    this.pid = this.proc.pid;
  }

  pids() {
    return processTree(this.pid);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.send({ type: 'stop' });
    if (!(await Promise.race([this.exited, deadline(60000).then(() => null)]))) this.proc.kill('SIGKILL');
  }

  kill() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

const CONTENDERS = {
  thread: (o, dir, address, tq) => new HourglassSide(o, dir, address, tq, 'thread'),
  process: (o, dir, address, tq) => new HourglassSide(o, dir, address, tq, 'process'),
  ts: (o, dir, address, tq) => new TsSide(o, dir, address, tq),
};
const LABEL = {
  thread: 'Hourglass, thread executors',
  process: 'Hourglass, process isolation',
  ts: 'TS SDK worker',
};

// ------------------------------------------------------------------ client

const ROLE = {
  'hourglass-super': 'supervisor',
  'hourglass-bridg': 'bridge host',
  'hourglass-worke': 'worker',
  node: 'Node worker',
};

/**
 * The side's CPU ticks: every process of its tree, own time plus the time of
 * children it reaped (so short-lived executors, reaped by their worker,
 * count). Also per pid, for the breakdown by role.
 */
function sideTicks(side) {
  const per = new Map();
  let ticks = 0;
  for (const p of side.pids()) {
    const f = statFields(p);
    if (!f) continue;
    const own = Number(f[11]) + Number(f[12]);
    const reaped = Number(f[13]) + Number(f[14]);
    per.set(p, { role: ROLE[processName(p)] || processName(p), own, reaped });
    ticks += own + reaped;
  }
  return { ticks, per };
}

/** CPU ms by role over a window (reaped children of a worker: "executors"). */
function breakdown(s0, s1) {
  const out = {};
  const add = (k, t) => (out[k] = (out[k] || 0) + (t * 1000) / CLK_TCK);
  for (const [pid, e1] of s1.per) {
    const e0 = s0.per.get(pid) || { own: 0, reaped: 0 };
    add(e1.role, e1.own - e0.own);
    if (e1.reaped !== e0.reaped) add(e1.role === 'worker' ? 'executors (reaped by the worker)' : `${e1.role} (reaped)`, e1.reaped - e0.reaped);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v)]));
}

async function runBatch(client, taskQueue, workload, count, concurrency, tag) {
  const latencies = [];
  const errors = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  async function lane() {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const begin = process.hrtime.bigint();
      try {
        const handle = await client.workflow.start('KitchenSink', {
          taskQueue,
          workflowId: `${tag}-${i}`,
          args: [workload.input],
        });
        if (workload.signal) await handle.signal(workload.signal);
        const result = await handle.result();
        if (result !== 'done') throw new Error(`unexpected result ${JSON.stringify(result)}`);
        latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
      } catch (err) {
        errors.push(String((err && err.message) || err));
        if (errors.length > 20) throw new Error(`too many workflow errors; first: ${errors[0]}`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { latencies, errors, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
}

async function measureWorkload(client, o, side, server, name, tag) {
  const workload = WORKLOADS[name](o);
  const pids0 = side.pids();
  const s0 = sideTicks(side);
  const c0 = { side: s0.ticks, server: cpuTicks(server.pid, false), client: cpuTicks(process.pid, false), machine: machineTicks() };
  const m = await runBatch(client, side.taskQueue, workload, o.workflows, o.concurrency, `${tag}-${name}`);
  const s1 = sideTicks(side);
  const c1 = { side: s1.ticks, server: cpuTicks(server.pid, false), client: cpuTicks(process.pid, false), machine: machineTicks() };
  const pids1 = side.pids();
  if (m.errors.length) throw new Error(`${side.name}/${name}: ${m.errors.length} workflow(s) failed; first: ${m.errors[0]}`);
  const lat = m.latencies.slice().sort((a, b) => a - b);
  // The shape of one workflow's history (the same on both sides if they issue
  // the same commands): events, and workflow tasks completed.
  const history = (await client.workflow.getHandle(`${tag}-${name}-0`).fetchHistory()).events;
  const ms = (k) => ((c1[k] - c0[k]) / CLK_TCK) * 1000;
  return {
    workflows: o.workflows,
    wall_s: round(m.wallMs / 1000, 3),
    workflows_per_s: round(o.workflows / (m.wallMs / 1000), 1),
    p50_ms: round(percentile(lat, 0.5)),
    p99_ms: round(percentile(lat, 0.99)),
    max_ms: round(lat[lat.length - 1]),
    latencies: m.latencies,
    cpu_ms: { worker: round(ms('side'), 0), server: round(ms('server'), 0), client: round(ms('client'), 0) },
    worker_cpu_ms_by_role: breakdown(s0, s1),
    history_events: history.length,
    workflow_tasks: history.filter((e) => e.workflowTaskCompletedEventAttributes).length,
    cpu_ms_per_wf: {
      worker: round(ms('side') / o.workflows, 3),
      server: round(ms('server') / o.workflows, 3),
      client: round(ms('client') / o.workflows, 3),
    },
    machine_busy: round((c1.machine.busy - c0.machine.busy) / (c1.machine.total - c0.machine.total), 3),
    // Busy CPU of the machine not spent by the worker side, the dev server or
    // the client: other engineers' builds and tests.
    other_cpu_ms: Math.max(0, round(((c1.machine.busy - c0.machine.busy) / CLK_TCK) * 1000 - ms('side') - ms('server') - ms('client'), 0)),
    processes: { start: pids0.map((p) => `${processName(p)}:${p}`), end: pids1.length },
  };
}

async function waitFirstTasks(client, ids, timeoutMs) {
  let pending = ids.slice();
  const until = Date.now() + timeoutMs;
  while (pending.length) {
    if (Date.now() > until) throw new Error(`${pending.length} held workflow(s) had no completed workflow task`);
    const still = [];
    for (let i = 0; i < pending.length; i += 50) {
      const chunk = pending.slice(i, i + 50);
      const done = await Promise.all(
        chunk.map(async (id) => {
          const h = await client.workflow.getHandle(id).fetchHistory();
          return h.events.some((e) => e.workflowTaskCompletedEventAttributes);
        }),
      );
      chunk.forEach((id, j) => done[j] || still.push(id));
    }
    pending = still;
    if (pending.length) await sleep(200);
  }
}

async function measureMemory(client, o, side, tag) {
  const rss = () => side.pids().reduce((s, p) => s + rssKiB(p), 0);
  await sleep(1000);
  const before = rss();
  const ids = Array.from({ length: o.cached }, (_, i) => `${tag}-hold-${i}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, ids.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= ids.length) return;
        await client.workflow.start('KitchenSink', { taskQueue: side.taskQueue, workflowId: ids[i], args: [HOLD_INPUT] });
      }
    }),
  );
  await waitFirstTasks(client, ids, 120000);
  await sleep(1000);
  const after = rss();
  // Release them (and check they finish): signal, await every result.
  next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, ids.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= ids.length) return;
        const h = client.workflow.getHandle(ids[i]);
        await h.signal('go');
        const r = await h.result();
        if (r !== 'done') throw new Error(`held workflow ${ids[i]}: unexpected result ${JSON.stringify(r)}`);
      }
    }),
  );
  return {
    k: o.cached,
    rss_before_kib: before,
    rss_after_kib: after,
    kib_per_cached_wf: round((after - before) / o.cached, 2),
  };
}

async function runContender(client, o, name, roundNo, dir, server, tag) {
  const tq = `${tag}-r${roundNo}-${name}`;
  const side = CONTENDERS[name](o, dir, server.address, tq);
  note(`round ${roundNo}: ${LABEL[name]} (task queue ${tq}): starting`);
  const t = Date.now();
  try {
    await side.start();
    note(`round ${roundNo}: ${name}: ready in ${Date.now() - t} ms; warm-up`);
    if (o.warmup > 0) {
      for (const [w, n] of [['noop', o.warmup], ['ten', Math.max(1, Math.floor(o.warmup / 10))]]) {
        if (!o.workloads.includes(w)) continue;
        const r = await runBatch(client, tq, WORKLOADS[w](o), n, o.concurrency, `${tq}-warm-${w}`);
        if (r.errors.length) throw new Error(`${name} warm-up ${w}: ${r.errors[0]}`);
      }
    }
    const result = { contender: name, round: roundNo, task_queue: tq, workloads: {} };
    for (const w of o.workloads) {
      note(`round ${roundNo}: ${name}: ${w}: ${o.workflows} workflows, ${o.concurrency} in flight`);
      result.workloads[w] = await measureWorkload(client, o, side, server, w, tq);
      const r = result.workloads[w];
      note(`  ${r.workflows_per_s} wf/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, worker ${r.cpu_ms_per_wf.worker} CPU-ms/wf`);
    }
    if (o.cached > 0) {
      note(`round ${roundNo}: ${name}: memory: ${o.cached} workflows waiting on a signal`);
      result.memory = await measureMemory(client, o, side, tq);
      note(`  ${result.memory.kib_per_cached_wf} KiB per cached workflow`);
    }
    return result;
  } finally {
    await side.stop().catch(() => side.kill());
    side.kill();
  }
}

// ------------------------------------------------------------------ report

function aggregate(o, results) {
  const agg = {};
  for (const name of o.contenders) {
    const mine = results.filter((r) => r.contender === name);
    agg[name] = { workloads: {} };
    for (const w of o.workloads) {
      const rs = mine.map((r) => r.workloads[w]);
      const lat = rs.flatMap((r) => r.latencies).sort((a, b) => a - b);
      const n = rs.reduce((s, r) => s + r.workflows, 0);
      const wall = rs.reduce((s, r) => s + r.wall_s, 0);
      const sum = (k) => rs.reduce((s, r) => s + r.cpu_ms[k], 0);
      agg[name].workloads[w] = {
        workflows_per_s: round(n / wall, 1),
        p50_ms: round(percentile(lat, 0.5)),
        p99_ms: round(percentile(lat, 0.99)),
        worker_cpu_ms_per_wf: round(sum('worker') / n, 3),
        server_cpu_ms_per_wf: round(sum('server') / n, 3),
        client_cpu_ms_per_wf: round(sum('client') / n, 3),
        per_round_wf_s: rs.map((r) => r.workflows_per_s),
        worker_cpu_ms_per_wf_by_role: (() => {
          const b = {};
          for (const r of rs) for (const [k, v] of Object.entries(r.worker_cpu_ms_by_role)) b[k] = (b[k] || 0) + v;
          return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, round(v / n, 3)]));
        })(),
        machine_busy: round(rs.reduce((s, r) => s + r.machine_busy, 0) / rs.length, 3),
        history_events: rs[0].history_events,
        workflow_tasks: rs[0].workflow_tasks,
        other_cpu_s_per_s: round(rs.reduce((s, r) => s + r.other_cpu_ms, 0) / 1000 / wall, 3),
      };
    }
    const mem = mine.map((r) => r.memory).filter(Boolean);
    if (mem.length) {
      agg[name].kib_per_cached_wf = round(mem.reduce((s, m) => s + m.kib_per_cached_wf, 0) / mem.length, 2);
      agg[name].rss_idle_kib = Math.round(mem.reduce((s, m) => s + m.rss_before_kib, 0) / mem.length);
    }
  }
  return agg;
}

function report(o, agg, results, meta) {
  const f = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const ratio = (x) => (x === null || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}×`);
  const out = [];
  out.push('');
  out.push(`Hourglass worker vs the official TS SDK worker (${meta.sdk}, Node ${meta.node}), one hourglass-devserver`);
  out.push(
    `${o.workflows} workflows per workload and contender, ${o.concurrency} in flight, ${o.rounds} round(s) ` +
      `(order alternates), +${o.warmup} warm-up; memory: ${o.cached} workflows waiting on a signal; ` +
      `${meta.vcpus} vCPU; load average at start ${meta.loadavg_start.join(' ')}` +
      (o.hgQueue.length ? `; Hourglass queues: ${o.hgQueue.join(', ')}` : ''),
  );
  out.push('');
  out.push('| workload | worker | workflows/s | p50 ms | p99 ms | worker CPU ms/wf | dev server CPU ms/wf | client CPU ms/wf |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const w of o.workloads) {
    for (const c of o.contenders) {
      const a = agg[c].workloads[w];
      out.push(
        `| ${w} | ${LABEL[c]} | ${f(a.workflows_per_s)} | ${f(a.p50_ms)} | ${f(a.p99_ms)} | ${f(a.worker_cpu_ms_per_wf, 2)} | ` +
          `${f(a.server_cpu_ms_per_wf, 2)} | ${f(a.client_cpu_ms_per_wf, 2)} |`,
      );
    }
  }
  out.push('');
  out.push('Worker-side CPU ms per workflow by process; machine busy (of all vCPUs) during the windows; the history of one workflow:');
  for (const w of o.workloads) {
    for (const c of o.contenders) {
      const a = agg[c].workloads[w];
      const parts = Object.entries(a.worker_cpu_ms_per_wf_by_role).map(([k, v]) => `${k} ${f(v, 2)}`);
      out.push(
        `  ${w} / ${LABEL[c]}: ${parts.join(', ')}; machine ${f(100 * a.machine_busy, 0)} % busy ` +
          `(not this benchmark: ${f(a.other_cpu_s_per_s, 2)} CPU-s/s); ` +
          `history: ${a.history_events} events, ${a.workflow_tasks} workflow tasks`,
      );
    }
  }
  if (o.cached > 0) {
    out.push('');
    out.push('| worker | RSS idle MiB | KiB per cached workflow |');
    out.push('|---|---|---|');
    for (const c of o.contenders) {
      out.push(`| ${LABEL[c]} | ${f(agg[c].rss_idle_kib / 1024, 1)} | ${f(agg[c].kib_per_cached_wf, 1)} |`);
    }
  }
  const ratios = [];
  if (agg.ts) {
    out.push('');
    out.push('Ratios, Hourglass against the TS worker, all oriented so that > 1 means Hourglass is better:');
    out.push('throughput Hourglass/TS; latency, CPU and memory TS/Hourglass.');
    out.push('');
    out.push('| workload | Hourglass | throughput | p50 | p99 | worker CPU/wf | memory/cached wf | goal (≥ 2× throughput, ≤ ½ p99) |');
    out.push('|---|---|---|---|---|---|---|---|');
    for (const w of o.workloads) {
      const t = agg.ts.workloads[w];
      for (const c of o.contenders.filter((x) => x !== 'ts')) {
        const h = agg[c].workloads[w];
        const r = {
          workload: w,
          contender: c,
          throughput: h.workflows_per_s / t.workflows_per_s,
          p50: t.p50_ms / h.p50_ms,
          p99: t.p99_ms / h.p99_ms,
          cpu: t.worker_cpu_ms_per_wf / h.worker_cpu_ms_per_wf,
          memory: agg.ts.kib_per_cached_wf !== undefined ? agg.ts.kib_per_cached_wf / agg[c].kib_per_cached_wf : NaN,
        };
        r.goal_met = r.throughput >= 2 && r.p99 >= 2;
        ratios.push(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v])));
        out.push(
          `| ${w} | ${LABEL[c]} | ${ratio(r.throughput)} | ${ratio(r.p50)} | ${ratio(r.p99)} | ${ratio(r.cpu)} | ` +
            `${w === o.workloads[0] ? ratio(r.memory) : ''} | ${r.goal_met ? 'met' : 'not met'} |`,
        );
      }
    }
  }
  if (o.rounds > 1) {
    out.push('');
    out.push('Per round, workflows/s (order of each round in brackets):');
    for (let r = 1; r <= o.rounds; r++) {
      const rs = results.filter((x) => x.round === r);
      out.push(
        `  round ${r} [${rs.map((x) => x.contender).join(' ')}]: ` +
          rs.map((x) => `${x.contender} ${o.workloads.map((w) => `${w} ${f(x.workloads[w].workflows_per_s)}`).join(', ')}`).join('; '),
      );
    }
  }
  out.push('');
  console.log(out.join('\n'));
  return ratios;
}

// -------------------------------------------------------------------- main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.role === 'ts-worker') return tsWorkerMain(o);
  quiet = o.jsonOnly;
  o.binDir = path.resolve(o.binDir);
  for (const b of ['hourglass-devserver', 'hourglass-supervisor', 'hourglass-bridgehost', 'hourglass-workerproc', 'hourglass']) {
    try {
      fs.accessSync(path.join(o.binDir, b), fs.constants.X_OK);
    } catch {
      throw new Error(`${b} not found or not executable in ${o.binDir} (--bin-dir)`);
    }
  }
  const { Client, Connection } = sdkRequire('@temporalio/client');
  const meta = {
    sdk: `@temporalio/* ${sdkRequire('@temporalio/client/package.json').version}`,
    node: process.version,
    vcpus: os.cpus().length,
    loadavg_start: os.loadavg().map((x) => round(x)),
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hg-wvt-'));
  const tag = `wvt${process.pid}`;
  const server = new DevServer(o, dir);
  let connection = null;
  let failed = true;
  try {
    note(`starting hourglass-devserver in ${dir}`);
    await server.start();
    note(`dev server ready on ${server.address} (pid ${server.pid})`);
    connection = await Connection.connect({ address: server.address, connectTimeout: '10s' });
    const client = new Client({ connection, namespace: NAMESPACE });
    const results = [];
    for (let r = 1; r <= o.rounds; r++) {
      const order = r % 2 === 1 ? o.contenders : o.contenders.slice().reverse();
      for (const c of order) {
        if (server.exitedEarly) throw new Error('the dev server died');
        results.push(await runContender(client, o, c, r, dir, server, tag));
      }
    }
    const agg = aggregate(o, results);
    meta.loadavg_end = os.loadavg().map((x) => round(x));
    const ratios = o.jsonOnly ? null : report(o, agg, results, meta);
    for (const r of results) for (const w of Object.values(r.workloads)) delete w.latencies;
    console.log(
      JSON.stringify({
        bench: 'worker_vs_ts',
        date: new Date().toISOString(),
        ...meta,
        options: { workflows: o.workflows, concurrency: o.concurrency, warmup: o.warmup, cached: o.cached, rounds: o.rounds, timer_ms: o.timerMs, hg_queue: o.hgQueue },
        aggregate: agg,
        ratios,
        results,
      }),
    );
    failed = server.exitedEarly === true;
    if (failed) process.exitCode = 1;
  } finally {
    if (connection) await connection.close().catch(() => {});
    await server.stop().catch(() => {});
    if (failed || o.keepTmp) note(`kept ${dir} (dev server and supervisor logs)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(process.exitCode || 0),
  (err) => {
    console.error(`[bench] ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
