'use strict';
// Harness of the hourglass-devserver conformance suite: starts the dev server
// (the binary named by $HOURGLASS_DEVSERVER), connects the official TS client
// and worker to it, and offers helpers to wait on conditions and to compare a
// workflow history with the expected event-type sequences of
// shared/reference/temporal-server-semantics.md §9.2.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { after, test } = require('node:test');

const { Client, Connection } = require('@temporalio/client');
const { Worker, NativeConnection, Runtime, DefaultLogger, bundleWorkflowCode } = require('@temporalio/worker');
const { temporal } = require('@temporalio/proto');

const activities = require('./activities');

const NAMESPACE = 'default';
const READY_RE = /^hourglass-devserver ready on (127\.0\.0\.1):(\d+)\s*$/;
const enums = temporal.api.enums.v1;

// One Core runtime per process, with a quiet logger.
if (!global.__hourglassConformanceRuntime) {
  global.__hourglassConformanceRuntime = Runtime.install({ logger: new DefaultLogger('WARN') });
}

// ------------------------------------------------------------------ utils

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function uid(prefix) {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** int64 fields arrive as protobufjs Long objects; make them numbers. */
function num(x) {
  if (x === null || x === undefined) return 0;
  if (typeof x === 'number') return x;
  if (typeof x.toNumber === 'function') return x.toNumber();
  return Number(x);
}

function timestampMs(ts) {
  if (!ts) return NaN;
  return num(ts.seconds) * 1000 + Math.floor((ts.nanos || 0) / 1e6);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Polls `fn` (sync or async) until it returns a truthy value, which is
 * returned. Errors thrown by `fn` count as "not yet" and are reported if the
 * deadline passes.
 */
async function waitUntil(fn, { timeout = 20000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastErr = undefined;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${what}` + (lastErr ? ` (last error: ${lastErr.message})` : ''),
      );
    }
    await sleep(interval);
  }
}

/** Awaits `promise`, expecting it to reject; returns the error. */
async function rejectionOf(promise, what = 'operation') {
  try {
    const v = await promise;
    throw Object.assign(new Error(`expected ${what} to fail, but it returned ${JSON.stringify(v)}`), {
      notARejection: true,
    });
  } catch (err) {
    if (err && err.notARejection) throw err;
    return err;
  }
}

// ------------------------------------------------------ event-type names

// Short names used by the reference table (and by the patterns of this
// suite). Any other event type is named by its CamelCase enum name, which is
// also accepted in patterns for every type.
const SHORT = {
  WORKFLOW_EXECUTION_STARTED: 'WES',
  WORKFLOW_EXECUTION_COMPLETED: 'WEC',
  WORKFLOW_EXECUTION_FAILED: 'WEF',
  WORKFLOW_EXECUTION_TIMED_OUT: 'WETO',
  WORKFLOW_TASK_SCHEDULED: 'WTS',
  WORKFLOW_TASK_STARTED: 'WTSt',
  WORKFLOW_TASK_COMPLETED: 'WTC',
  WORKFLOW_TASK_TIMED_OUT: 'WTTO',
  WORKFLOW_TASK_FAILED: 'WTF',
  ACTIVITY_TASK_SCHEDULED: 'ATSch',
  ACTIVITY_TASK_STARTED: 'ATSt',
  ACTIVITY_TASK_COMPLETED: 'ATC',
  ACTIVITY_TASK_FAILED: 'ATF',
  ACTIVITY_TASK_TIMED_OUT: 'ATTO',
  ACTIVITY_TASK_CANCEL_REQUESTED: 'ATCR',
  ACTIVITY_TASK_CANCELED: 'ATCd',
  TIMER_STARTED: 'TSt',
  TIMER_FIRED: 'TF',
  TIMER_CANCELED: 'TC',
  WORKFLOW_EXECUTION_CANCEL_REQUESTED: 'WECR',
  WORKFLOW_EXECUTION_CANCELED: 'WECd',
  REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: 'RCEWEI',
  REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: 'RCEWEF',
  EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED: 'EWECR',
  MARKER_RECORDED: 'MR',
  WORKFLOW_EXECUTION_SIGNALED: 'Sig',
  WORKFLOW_EXECUTION_TERMINATED: 'WET',
  WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 'WECAN',
  START_CHILD_WORKFLOW_EXECUTION_INITIATED: 'SCWEI',
  START_CHILD_WORKFLOW_EXECUTION_FAILED: 'SCWEF',
  CHILD_WORKFLOW_EXECUTION_STARTED: 'CWES',
  CHILD_WORKFLOW_EXECUTION_COMPLETED: 'CWEC',
  CHILD_WORKFLOW_EXECUTION_FAILED: 'CWEF',
  CHILD_WORKFLOW_EXECUTION_CANCELED: 'CWECd',
  CHILD_WORKFLOW_EXECUTION_TIMED_OUT: 'CWETO',
  CHILD_WORKFLOW_EXECUTION_TERMINATED: 'CWET',
  SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: 'SEWEI',
  SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: 'SEWEF',
  EXTERNAL_WORKFLOW_EXECUTION_SIGNALED: 'EWES',
  UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: 'USA',
  WORKFLOW_PROPERTIES_MODIFIED: 'WPM',
};

// Names of the table that are not derived from the enum.
const TABLE_ALIASES = {
  Completed: 'WEC',
  Failed: 'WEF',
  Terminated: 'WET',
  TimedOut: 'WETO',
  Canceled: 'WECd',
};

const camel = (s) =>
  s
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

// enum number -> display name; every accepted spelling -> display name
const NAME_BY_NUMBER = new Map();
const CANONICAL = new Map();
for (const [key, value] of Object.entries(enums.EventType)) {
  if (typeof value !== 'number' || !key.startsWith('EVENT_TYPE_')) continue;
  const bare = key.slice('EVENT_TYPE_'.length);
  if (bare === 'UNSPECIFIED') continue;
  const display = SHORT[bare] || camel(bare);
  NAME_BY_NUMBER.set(value, display);
  CANONICAL.set(display, display);
  CANONICAL.set(camel(bare), display);
  CANONICAL.set(key, display);
}
for (const [alias, target] of Object.entries(TABLE_ALIASES)) CANONICAL.set(alias, target);

function eventName(ev) {
  return NAME_BY_NUMBER.get(ev.eventType) || `Unknown(${ev.eventType})`;
}

function eventNames(historyOrEvents) {
  const events = Array.isArray(historyOrEvents) ? historyOrEvents : historyOrEvents.events || [];
  return events.map(eventName);
}

function eventsOf(events, name) {
  const want = CANONICAL.get(name);
  if (!want) throw new Error(`unknown event name ${name}`);
  return events.filter((e) => eventName(e) === want);
}

function only(events, name) {
  const found = eventsOf(events, name);
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${name} event, found ${found.length}: ${eventNames(events).join(' ')}`);
  }
  return found[0];
}

// ------------------------------------------------------------ the matcher
//
// Pattern syntax (whitespace or commas separate tokens):
//   NAME          one event (short name, CamelCase enum name, or a table alias)
//   ( a | b )     alternatives, each a sequence
//   [ x y ]       optional sequence
//   (...)* [...]* zero or more repetitions of a group
//   ...           any number of events (use sparingly)

function parsePattern(pattern) {
  const tokens = pattern.match(/\.\.\.|[()[\]|*]|[^\s,()[\]|*]+/g) || [];
  let i = 0;
  function seq(stop) {
    const alts = [[]];
    while (i < tokens.length && !stop.includes(tokens[i])) {
      const t = tokens[i++];
      let node;
      if (t === '(') {
        node = seq([')']);
        if (tokens[i++] !== ')') throw new Error(`pattern: missing ")" in ${pattern}`);
      } else if (t === '[') {
        node = { opt: seq([']']) };
        if (tokens[i++] !== ']') throw new Error(`pattern: missing "]" in ${pattern}`);
      } else if (t === '|') {
        alts.push([]);
        continue;
      } else if (t === '*') {
        throw new Error(`pattern: "*" must follow a group in ${pattern}`);
      } else if (t === '...') {
        node = { any: true };
      } else {
        const name = CANONICAL.get(t);
        if (!name) throw new Error(`pattern: unknown event name "${t}" in ${pattern}`);
        node = { tok: name };
      }
      if (tokens[i] === '*') {
        i++;
        node = { star: node.opt || node };
      }
      alts[alts.length - 1].push(node);
    }
    return alts.length === 1 ? { seq: alts[0] } : { alt: alts.map((s) => ({ seq: s })) };
  }
  const ast = seq([]);
  if (i !== tokens.length) throw new Error(`pattern: unexpected "${tokens[i]}" in ${pattern}`);
  return ast;
}

/**
 * Matches the list of names against the pattern. Returns {ok, furthest,
 * expected}: furthest = the longest prefix that some path of the pattern
 * consumed, expected = the names the pattern could accept right there.
 */
function matchNames(names, pattern) {
  const ast = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  let furthest = 0;
  const expectedAt = new Map();
  const note = (pos, what) => {
    if (!expectedAt.has(pos)) expectedAt.set(pos, new Set());
    expectedAt.get(pos).add(what);
  };
  function step(node, positions) {
    if (node.tok) {
      const out = new Set();
      for (const p of positions) {
        if (names[p] === node.tok) {
          out.add(p + 1);
          furthest = Math.max(furthest, p + 1);
        } else {
          note(p, node.tok);
        }
      }
      return out;
    }
    if (node.any) {
      const out = new Set();
      for (const p of positions) for (let q = p; q <= names.length; q++) out.add(q);
      return out;
    }
    if (node.seq) {
      let cur = positions;
      for (const n of node.seq) {
        cur = step(n, cur);
        if (cur.size === 0) break;
      }
      return cur;
    }
    if (node.alt) {
      const out = new Set();
      for (const a of node.alt) for (const p of step(a, positions)) out.add(p);
      return out;
    }
    if (node.opt) {
      const out = new Set(positions);
      for (const p of step(node.opt, positions)) out.add(p);
      return out;
    }
    if (node.star) {
      const out = new Set(positions);
      let frontier = positions;
      while (frontier.size > 0) {
        const next = new Set();
        for (const p of step(node.star, frontier)) if (!out.has(p)) next.add(p);
        for (const p of next) out.add(p);
        frontier = next;
      }
      return out;
    }
    throw new Error('pattern: bad node');
  }
  const end = step(ast, new Set([0]));
  if (end.has(names.length)) return { ok: true };
  for (const p of end) note(p, '<end of history>');
  const expected = [...(expectedAt.get(furthest) || [])];
  return { ok: false, furthest, expected };
}

function describeMismatch(names, pattern, label) {
  const r = matchNames(names, pattern);
  if (r.ok) return null;
  const numbered = names.map((n, i) => `${i + 1}:${n}`).join(' ');
  const got = r.furthest < names.length ? `event #${r.furthest + 1} is ${names[r.furthest]}` : 'the history ends';
  return (
    `event sequence mismatch${label ? ` for ${label}` : ''}\n` +
    `  expected: ${pattern}\n` +
    `  actual:   ${names.join(' ')}\n` +
    `  numbered: ${numbered}\n` +
    `  the first ${r.furthest} event(s) match; then ${got}, but the pattern expects one of: ` +
    `${r.expected.join(', ') || '(nothing)'}`
  );
}

function assertEventSequence(events, pattern, label) {
  const names = eventNames(events);
  const msg = describeMismatch(names, pattern, label);
  if (msg) {
    const err = new Error(msg);
    err.name = 'EventSequenceMismatch';
    throw err;
  }
  return events;
}

function assertDenseIds(events, label) {
  events.forEach((e, i) => {
    if (num(e.eventId) !== i + 1) {
      throw new Error(`${label || 'history'}: event #${i + 1} has event_id ${num(e.eventId)} (ids must be dense from 1)`);
    }
  });
}

// ------------------------------------------------------------ dev server

function resolveBinary() {
  const bin = process.env.HOURGLASS_DEVSERVER;
  if (!bin) {
    throw new Error(
      'HOURGLASS_DEVSERVER is not set: run the suite through tests/conformance/run.sh /path/to/hourglass-devserver ' +
        '(or ctest -R conformance_ts_sdk in a build tree that has the hourglass-devserver target)',
    );
  }
  const abs = path.resolve(bin);
  try {
    fs.accessSync(abs, fs.constants.X_OK);
  } catch {
    throw new Error(`hourglass-devserver binary not found or not executable: ${abs}`);
  }
  if (!fs.statSync(abs).isFile()) throw new Error(`hourglass-devserver binary is not a file: ${abs}`);
  return abs;
}

/**
 * The absolute path of the executable named by environment variable
 * `varName` (set by run.sh / ctest, like HOURGLASS_DEVSERVER); throws with a
 * hint when it is unset or not an executable file.
 */
function binaryFromEnv(varName, what = varName) {
  const bin = process.env[varName];
  if (!bin) {
    throw new Error(
      `${varName} is not set: it names the ${what} binary (ctest sets it; by hand: ` +
        `${varName}=build/bin/... tests/conformance/run.sh build/bin/hourglass-devserver)`,
    );
  }
  const abs = path.resolve(bin);
  try {
    fs.accessSync(abs, fs.constants.X_OK);
  } catch {
    throw new Error(`${what} binary not found or not executable: ${abs} (from ${varName})`);
  }
  if (!fs.statSync(abs).isFile()) throw new Error(`${what} binary is not a file: ${abs} (from ${varName})`);
  return abs;
}

// Servers still running when this process exits (a crash, --test-force-exit)
// are killed, so no dev server outlives its test file.
const liveServers = new Set();
process.on('exit', () => {
  for (const server of liveServers) {
    try {
      if (server.proc) server.proc.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

class DevServer {
  constructor({ binary, dir, dbPath, logPath }) {
    this.binary = binary;
    this.dir = dir;
    this.dbPath = dbPath;
    this.logPath = logPath;
    this.proc = null;
    this.address = null;
    this.port = 0;
    this.starts = 0;
    this.expectExit = false;
    this.onUnexpectedExit = null;
    this.log = fs.createWriteStream(logPath, { flags: 'a' });
    this.recent = []; // last lines, in memory (the file stream writes asynchronously)
    this.partial = '';
  }

  /** Appends text to devserver.log and to the in-memory tail. */
  write(text) {
    this.log.write(text);
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop();
    this.recent.push(...parts);
    if (this.recent.length > 2000) this.recent.splice(0, this.recent.length - 1000);
  }

  /** Spawns the server (port 0 = any) and resolves with "127.0.0.1:PORT". */
  async start({ port = 0, timeoutMs = 30000 } = {}) {
    this.starts += 1;
    const args = [
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--db-filename',
      this.dbPath,
      '--log-level',
      'warn',
    ];
    this.write(`=== start #${this.starts}: ${this.binary} ${args.join(' ')}\n`);
    const proc = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    liveServers.add(this);
    this.expectExit = false;
    proc.stderr.on('data', (chunk) => this.write(chunk.toString()));
    const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    const spawnError = new Promise((_, reject) => proc.once('error', reject));
    let readyTimer;
    const ready = new Promise((resolve) => {
      const rl = readline.createInterface({ input: proc.stdout });
      rl.on('line', (line) => {
        this.write(`[stdout] ${line}\n`);
        const m = READY_RE.exec(line);
        if (m && !this.address) resolve(`${m[1]}:${m[2]}`);
      });
    });
    exited.then(({ code, signal }) => {
      this.write(`=== exit of start #${this.starts}: code=${code} signal=${signal}\n`);
      if (!this.expectExit && this.onUnexpectedExit) {
        this.onUnexpectedExit(new Error(`hourglass-devserver exited unexpectedly (code=${code}, signal=${signal})`));
      }
    });
    const address = await Promise.race([
      ready,
      spawnError,
      exited.then(({ code, signal }) => {
        throw new Error(`hourglass-devserver exited before printing its ready line (code=${code}, signal=${signal})`);
      }),
      new Promise((_, reject) => {
        readyTimer = setTimeout(
          () =>
            reject(
              new Error(
                `hourglass-devserver printed no "hourglass-devserver ready on 127.0.0.1:PORT" line within ` +
                  `${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      }),
    ])
      .finally(() => clearTimeout(readyTimer))
      .catch(async (err) => {
        this.expectExit = true;
        proc.kill('SIGKILL');
        throw err;
      });
    this.address = address;
    this.port = Number(address.split(':')[1]);
    return address;
  }

  /** kill -9, as in a crash; resolves once the process is gone. */
  async kill9() {
    if (!this.proc) return;
    this.expectExit = true;
    this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
    this.address = null;
  }

  /** SIGTERM, then SIGKILL after 5 s. Resolves with the exit status. */
  async stop() {
    if (!this.proc) return null;
    this.expectExit = true;
    const proc = this.proc;
    proc.kill('SIGTERM');
    let timer;
    let status = await Promise.race([
      this.exited,
      new Promise((r) => {
        timer = setTimeout(() => r(null), 5000);
      }),
    ]);
    clearTimeout(timer);
    if (!status) {
      this.write('=== no exit 5 s after SIGTERM: SIGKILL\n');
      proc.kill('SIGKILL');
      status = await this.exited;
      status.killed = true;
    }
    this.proc = null;
    this.address = null;
    return status;
  }

  tail(n = 60) {
    const lines = this.partial ? [...this.recent, this.partial] : this.recent;
    const shown = lines.slice(-n);
    return `--- last ${shown.length} lines of ${this.logPath} ---\n${shown.join('\n')}\n--- end of devserver log ---`;
  }
}

// ------------------------------------------------------------ the bundle

let bundlePromise = null;
function workflowBundle() {
  if (!bundlePromise) {
    bundlePromise = bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      logger: new DefaultLogger('WARN'),
    }).then(({ code }) => ({ code }));
  }
  return bundlePromise;
}

// ------------------------------------------------------------ the suite env

/**
 * A lazily-started environment shared by the tests of one file: a dev server
 * on a fresh database in a temporary directory, a client, a native
 * connection for workers and (optionally) one worker on `taskQueue`. Nothing
 * starts until the first test asks for it, so a filtered run that skips every
 * test of a file costs nothing. Teardown is registered with `after`.
 */
function suiteEnv({ name, mainWorker = true } = {}) {
  let envPromise = null;
  let env = null;
  let failures = 0;
  let setupReported = false;

  async function setUp() {
    const binary = resolveBinary();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hourglass-conformance-${name}-`));
    const server = new DevServer({
      binary,
      dir,
      dbPath: path.join(dir, 'dev.db'),
      logPath: path.join(dir, 'devserver.log'),
    });
    let rejectFatal;
    const fatal = new Promise((_, reject) => {
      rejectFatal = reject;
    });
    fatal.catch(() => {}); // observed through race() only
    server.onUnexpectedExit = (err) => rejectFatal(err);

    const e = {
      name,
      dir,
      server,
      fatal,
      workers: [],
      taskQueue: uid(`${name}-main`),
      namespace: NAMESPACE,
    };
    env = e;
    const [address, bundle] = await Promise.all([server.start(), workflowBundle()]);
    e.bundle = bundle;
    await connectEnv(e, address);

    /** Starts a worker; returns {worker, taskQueue, stop()}. */
    e.startWorker = async (opts = {}) => {
      const taskQueue = opts.taskQueue || e.taskQueue;
      const worker = await Worker.create({
        connection: e.nativeConnection,
        namespace: NAMESPACE,
        taskQueue,
        workflowBundle: e.bundle,
        activities,
        shutdownForceTime: '20s',
        ...opts,
      });
      const entry = { worker, taskQueue, stopped: false };
      entry.running = worker.run().then(
        () => undefined,
        (err) => {
          if (!entry.stopped) {
            console.error(`[conformance] worker on ${taskQueue} failed: ${err && err.stack}`);
            rejectFatal(new Error(`worker on task queue ${taskQueue} failed: ${err && err.message}`));
          }
        },
      );
      entry.stop = async () => {
        if (entry.stopped) return;
        entry.stopped = true;
        try {
          if (worker.getState() === 'RUNNING') worker.shutdown();
        } catch {
          /* already stopping */
        }
        await withTimeout(entry.running, 30000, `shutdown of the worker on ${taskQueue}`).catch((err) =>
          console.error(`[conformance] ${err.message}`),
        );
      };
      e.workers.push(entry);
      return entry;
    };

    /** Starts a workflow on the main task queue (or opts.taskQueue). */
    e.start = (workflowType, opts = {}) =>
      e.client.workflow.start(workflowType, {
        taskQueue: e.taskQueue,
        workflowId: opts.workflowId || uid(workflowType),
        ...opts,
      });

    if (mainWorker) e.mainWorker = await e.startWorker();
    return e;
  }

  async function get() {
    if (!envPromise) {
      envPromise = withTimeout(setUp(), 120000, `setting up the ${name} environment`);
    }
    return envPromise;
  }

  async function tearDown() {
    if (!env) return;
    const e = env;
    for (const w of e.workers.slice().reverse()) await w.stop();
    if (e.nativeConnection) await e.nativeConnection.close().catch(() => {});
    if (e.connection) await e.connection.close().catch(() => {});
    const status = await e.server.stop();
    if (status && status.killed) {
      console.error(`[conformance] hourglass-devserver did not stop within 5 s of SIGTERM (SIGKILLed)`);
    }
    if (failures === 0 && !process.env.CONFORMANCE_KEEP_TMP) {
      fs.rmSync(e.dir, { recursive: true, force: true });
    } else {
      console.error(`[conformance] kept ${e.dir} (devserver.log, dev.db) for inspection`);
    }
  }

  after(async () => {
    await tearDown();
  });

  /**
   * Declares a scenario: a node:test test whose body gets the environment,
   * runs under its own timeout, and prints the dev server's log tail when it
   * fails.
   */
  function scenario(title, opts, fn) {
    if (typeof opts === 'function') {
      fn = opts;
      opts = {};
    }
    const timeout = opts.timeout || 30000;
    test(title, { timeout: timeout + 150000 }, async (t) => {
      let e;
      try {
        e = await get();
        await Promise.race([withTimeout(Promise.resolve(fn(e, t)), timeout, title), e.fatal]);
      } catch (err) {
        failures += 1;
        if (!e && setupReported) {
          // The environment could not be set up; that was reported once.
          throw err;
        }
        if (!e) setupReported = true;
        const tail = e ? e.server.tail(60) : env ? env.server.tail(60) : '';
        console.error(`\n[conformance] ${title} FAILED: ${err && err.stack ? err.stack : err}\n${tail}\n`);
        throw err;
      }
    });
  }

  return { get, scenario, tearDown };
}

async function connectEnv(e, address) {
  e.address = address;
  e.connection = await Connection.connect({ address, connectTimeout: '10s' });
  e.client = new Client({ connection: e.connection, namespace: NAMESPACE });
  e.nativeConnection = await NativeConnection.connect({ address });
}

// --------------------------------------------------------- history helpers

async function historyOf(handle) {
  const h = await handle.fetchHistory();
  return h.events || [];
}

/** Fetches the history of `handle` and asserts its event sequence. */
async function expectHistory(handle, pattern, label) {
  const events = await historyOf(handle);
  assertEventSequence(events, pattern, label || `${handle.workflowId}${handle.runId ? ` run ${handle.runId}` : ''}`);
  assertDenseIds(events, handle.workflowId);
  return events;
}

/** Polls the history until `pred(names, events)` holds; returns the events. */
async function waitForHistory(handle, pred, what, timeout = 20000) {
  let last = [];
  try {
    return await waitUntil(
      async () => {
        last = await historyOf(handle);
        return pred(eventNames(last), last) ? last : null;
      },
      { timeout, what: `${what} in the history of ${handle.workflowId}` },
    );
  } catch (err) {
    err.message += `\n  history so far: ${eventNames(last).join(' ')}`;
    throw err;
  }
}

/** Waits until the history has at least `count` events named `name`. */
function waitForEvent(handle, name, count = 1, timeout = 20000) {
  const want = CANONICAL.get(name);
  if (!want) throw new Error(`unknown event name ${name}`);
  return waitForHistory(
    handle,
    (names) => names.filter((n) => n === want).length >= count,
    `${count} × ${name}`,
    timeout,
  );
}

module.exports = {
  NAMESPACE,
  enums,
  temporal,
  sleep,
  uid,
  num,
  timestampMs,
  withTimeout,
  waitUntil,
  rejectionOf,
  eventName,
  eventNames,
  eventsOf,
  only,
  parsePattern,
  matchNames,
  describeMismatch,
  assertEventSequence,
  assertDenseIds,
  resolveBinary,
  binaryFromEnv,
  DevServer,
  workflowBundle,
  suiteEnv,
  connect: connectEnv,
  historyOf,
  expectHistory,
  waitForHistory,
  waitForEvent,
};
