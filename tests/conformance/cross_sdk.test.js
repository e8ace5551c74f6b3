'use strict';
// Cross-SDK conformance (DESIGN.md §8, issue #5 item 6): the official
// Temporal TypeScript SDK (client, workflows, activities; 1.24.0) and the
// Hourglass C++ SDK interoperate through Temporal alone.
//
// One environment for the whole file: a fresh hourglass-devserver, a real
// hourglass-bridgehost pointed at it, hourglass-cross-sdk-worker (C++
// workflows and activities, tests/conformance/cross_sdk/) serving the C++
// task queue through the bridge host, and an official TS Worker
// (cross_sdk_workflows.js, cross_sdk_activities.js) serving the TS task
// queue from this process. Binaries: $HOURGLASS_DEVSERVER,
// $HOURGLASS_BRIDGEHOST, $HOURGLASS_CROSS_SDK_WORKER (set by ctest
// conformance_cross_sdk; see README.md).
//
// X1–X13 below; each asserts values seen on the other side of the SDK
// boundary (the C++ workflows that call TypeScript return what they observed).

const { after, test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const {
  WorkflowFailedError,
  ApplicationFailure,
  CancelledFailure,
  QueryNotRegisteredError,
} = require('@temporalio/client');
const { defaultPayloadConverter } = require('@temporalio/common');
const { Worker, DefaultLogger, bundleWorkflowCode } = require('@temporalio/worker');

const h = require('./harness');
const probe = require('./probe');
const { createActivities } = require('./cross_sdk_activities');

const E = h.enums;
const uid = h.uid;

// temporal.api.enums.v1.RetryState values, as the C++ SDK reports them (numbers)
const RETRY_STATE_NON_RETRYABLE_FAILURE = E.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE;
const RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED = E.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
const RETRY_STATE_RETRY_POLICY_NOT_SET = E.RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET;

// ------------------------------------------------------------ processes

// Child processes still running when this process exits are killed.
const liveProcesses = new Set();
process.on('exit', () => {
  for (const p of liveProcesses) {
    try {
      p.proc.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** A child process whose stdout and stderr go to a log file (and an in-memory tail). */
class LoggedProcess {
  constructor(name, binary, args, logPath) {
    this.name = name;
    this.binary = binary;
    this.args = args;
    this.logPath = logPath;
    this.log = fs.createWriteStream(logPath, { flags: 'a' });
    this.recent = [];
    this.lineListeners = new Set();
    this.expectExit = false;
    this.onUnexpectedExit = null;
  }

  start() {
    this.log.write(`=== ${this.binary} ${this.args.join(' ')}\n`);
    const proc = spawn(this.binary, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    liveProcesses.add(this);
    for (const stream of [proc.stdout, proc.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        this.log.write(`${line}\n`);
        this.recent.push(line);
        if (this.recent.length > 2000) this.recent.splice(0, 1000);
        for (const l of this.lineListeners) l(line);
      });
    }
    this.spawnError = new Promise((_, reject) => proc.once('error', reject));
    this.spawnError.catch(() => {});
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited.then(({ code, signal }) => {
      liveProcesses.delete(this);
      this.log.write(`=== exit: code=${code} signal=${signal}\n`);
      if (!this.expectExit && this.onUnexpectedExit) {
        this.onUnexpectedExit(new Error(`${this.name} exited unexpectedly (code=${code}, signal=${signal})`));
      }
    });
  }

  /** Resolves with the match of the first line (already seen or to come) matching `re`. */
  waitForLine(re, timeoutMs) {
    for (const line of this.recent) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    let listener;
    let timer;
    return Promise.race([
      new Promise((resolve) => {
        listener = (line) => {
          const m = re.exec(line);
          if (m) resolve(m);
        };
        this.lineListeners.add(listener);
      }),
      this.spawnError,
      this.exited.then(({ code, signal }) => {
        throw new Error(`${this.name} exited (code=${code}, signal=${signal}) before logging ${re}`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${this.name} logged no line matching ${re} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => {
      this.lineListeners.delete(listener);
      clearTimeout(timer);
    });
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit status. */
  async stop(graceMs = 5000) {
    if (!this.proc || !liveProcesses.has(this)) return this.exited;
    this.expectExit = true;
    this.proc.kill('SIGTERM');
    let timer;
    const status = await Promise.race([
      this.exited,
      new Promise((r) => {
        timer = setTimeout(() => r(null), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (status) return status;
    this.log.write(`=== no exit ${graceMs} ms after SIGTERM: SIGKILL\n`);
    this.proc.kill('SIGKILL');
    return { ...(await this.exited), killed: true };
  }

  tail(n = 40) {
    const shown = this.recent.slice(-n);
    return `--- last ${shown.length} lines of ${this.name} (${this.logPath}) ---\n${shown.join('\n')}\n--- end ---`;
  }
}

// ------------------------------------------------------------ the environment

let envPromise = null;
let env = null;
let failures = 0;

async function setUp() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hourglass-conformance-cross-sdk-'));
  const e = { dir, cppQueue: uid('cross-cpp'), tsQueue: uid('cross-ts'), processes: [], tsWorker: null };
  env = e;
  let rejectFatal;
  e.fatal = new Promise((_, reject) => {
    rejectFatal = reject;
  });
  e.fatal.catch(() => {}); // observed through race() only

  const devserverBinary = h.resolveBinary();
  const bridgeBinary = h.binaryFromEnv('HOURGLASS_BRIDGEHOST', 'hourglass-bridgehost');
  const workerBinary = h.binaryFromEnv('HOURGLASS_CROSS_SDK_WORKER', 'hourglass-cross-sdk-worker');

  e.server = new h.DevServer({
    binary: devserverBinary,
    dir,
    dbPath: path.join(dir, 'dev.db'),
    logPath: path.join(dir, 'devserver.log'),
  });
  e.server.onUnexpectedExit = (err) => rejectFatal(err);
  const [address, bundle] = await Promise.all([
    e.server.start(),
    bundleWorkflowCode({
      workflowsPath: require.resolve('./cross_sdk_workflows'),
      logger: new DefaultLogger('WARN'),
    }),
  ]);

  // The bridge host, standalone (no supervisor): it serves at
  // <runtime dir>/bridge.sock and logs "serving on <path>".
  const bridge = new LoggedProcess(
    'hourglass-bridgehost',
    bridgeBinary,
    ['--target', address, '--runtime-dir', path.join(dir, 'run'), '--log-level', 'info'],
    path.join(dir, 'bridgehost.log'),
  );
  e.processes.push(bridge);
  bridge.onUnexpectedExit = (err) => rejectFatal(err);
  bridge.start();
  e.socket = (await bridge.waitForLine(/serving on (\S+) \(epoch/, 20000))[1];

  // The C++ worker on the C++ queue, through the bridge host.
  const cpp = new LoggedProcess(
    'hourglass-cross-sdk-worker',
    workerBinary,
    ['--bridge-socket', e.socket, '--task-queue', e.cppQueue, '--log-level', 'info'],
    path.join(dir, 'cpp-worker.log'),
  );
  e.processes.push(cpp);
  cpp.onUnexpectedExit = (err) => rejectFatal(err);
  cpp.start();
  await cpp.waitForLine(/serving task queue/, 30000);

  // The TS client and the official TS Worker on the TS queue.
  await h.connect(e, address);
  const worker = await Worker.create({
    connection: e.nativeConnection,
    namespace: h.NAMESPACE,
    taskQueue: e.tsQueue,
    workflowBundle: { code: bundle.code },
    activities: createActivities({ getClient: () => e.client }),
    shutdownForceTime: '10s',
  });
  e.tsWorker = { worker, stopped: false };
  e.tsWorker.running = worker.run().catch((err) => {
    if (!e.tsWorker.stopped) rejectFatal(new Error(`the TS worker on ${e.tsQueue} failed: ${err && err.message}`));
  });
  return e;
}

function getEnv() {
  if (!envPromise) envPromise = h.withTimeout(setUp(), 120000, 'setting up the cross-SDK environment');
  return envPromise;
}

after(async () => {
  if (!env) return;
  const e = env;
  if (e.tsWorker) {
    e.tsWorker.stopped = true;
    try {
      e.tsWorker.worker.shutdown();
    } catch {
      /* not running */
    }
    await h.withTimeout(e.tsWorker.running, 20000, 'TS worker shutdown').catch((err) => console.error(err.message));
  }
  for (const p of e.processes.slice().reverse()) {
    const status = await p.stop();
    if (status && status.killed) console.error(`[cross-sdk] ${p.name} did not stop within 5 s of SIGTERM`);
  }
  if (e.nativeConnection) await e.nativeConnection.close().catch(() => {});
  if (e.connection) await e.connection.close().catch(() => {});
  if (e.server) await e.server.stop();
  if (failures === 0 && !process.env.CONFORMANCE_KEEP_TMP) {
    fs.rmSync(e.dir, { recursive: true, force: true });
  } else {
    console.error(`[cross-sdk] kept ${e.dir} (devserver.log, bridgehost.log, cpp-worker.log) for inspection`);
  }
});

/** A test with its own timeout that prints every process's log tail when it fails. */
function scenario(title, opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = {};
  }
  const timeout = opts.timeout || 20000;
  test(title, { timeout: timeout + 150000 }, async () => {
    let e;
    try {
      e = await getEnv();
      await Promise.race([h.withTimeout(Promise.resolve(fn(e)), timeout, title), e.fatal]);
    } catch (err) {
      failures += 1;
      const tails = env
        ? [...env.processes.map((p) => p.tail(40)), env.server ? env.server.tail(20) : ''].join('\n')
        : '';
      console.error(`\n[cross-sdk] ${title} FAILED: ${err && err.stack ? err.stack : err}\n${tails}\n`);
      throw err;
    }
  });
}

// ------------------------------------------------------------ helpers

const text = (bytes) => Buffer.from(bytes || []).toString();

/** The encoding and decoded value of a payload, as the TS SDK reads it. */
function decoded(payload) {
  return {
    encoding: text(payload.metadata && payload.metadata.encoding),
    value: defaultPayloadConverter.fromPayload(payload),
  };
}

/** The closing event's result payload encoding of a completed workflow. */
async function resultEncoding(handle) {
  const events = await h.historyOf(handle);
  const wec = h.only(events, 'WEC').workflowExecutionCompletedEventAttributes;
  const payloads = (wec.result && wec.result.payloads) || [];
  return payloads.map((p) => text(p.metadata.encoding));
}

/** Asserts err, err.cause, err.cause.cause, … are instances of `classes`. */
function assertCauseChain(err, ...classes) {
  const chain = [];
  for (let c = err; c; c = c.cause) chain.push(`${c.constructor && c.constructor.name}(${c.message})`);
  let c = err;
  classes.forEach((cls, i) => {
    assert.ok(c instanceof cls, `error chain position ${i} should be a ${cls.name}; chain: ${chain.join(' → ')}`);
    c = c.cause;
  });
}

function startCpp(e, type, args, prefix) {
  return e.client.workflow.start(type, { taskQueue: e.cppQueue, workflowId: uid(prefix), args });
}

function startTs(e, type, args, prefix) {
  return e.client.workflow.start(type, { taskQueue: e.tsQueue, workflowId: uid(prefix), args });
}

async function statusName(handle) {
  const d = await handle.describe();
  return d.status.name;
}

const ORDER = {
  id: 'o-1',
  quantity: 3,
  unit_price: 2.5,
  tags: ['a', 'b'],
  notes: { gift: true, text: 'héllo ✓ 日本', nested: { list: [1, null, 'x'] } },
};

// The order tsCallsCpp / tsParentOfCpp send (cross_sdk_workflows.js).
const TS_WF_ORDER = {
  id: 'o-ts-wf',
  quantity: 4,
  unit_price: 1.25,
  tags: ['ts'],
  notes: { text: 'grüße ✓', nested: { list: [1, null, { x: 'y' }] } },
};

// ====================================================================
// TS client -> C++ workflows
// ====================================================================

scenario('X1: TS client runs a C++ workflow: structured JSON in, user struct out (NLOHMANN_DEFINE_TYPE)', async (e) => {
  const handle = await startCpp(e, 'cpp.Echo', [ORDER], 'x1');
  const result = await handle.result();
  assert.deepEqual(result, {
    order: { ...ORDER, tags: ['a', 'b', 'seen-by-cpp'] },
    handled_by: 'hourglass-cpp',
    total: 7.5,
    workflow_id: handle.workflowId,
    workflow_type: 'cpp.Echo',
    task_queue: e.cppQueue,
    parent_workflow_id: '',
  });
  await h.expectHistory(handle, 'WES WTS WTSt WTC WEC');
  assert.deepEqual(await resultEncoding(handle), ['json/plain']);
});

scenario('X2: bytes and "no value" cross both ways: Uint8Array <-> hourglass::Bytes, void -> undefined', async (e) => {
  // C++ hourglass::Bytes result -> Uint8Array, every byte value intact.
  const bytesHandle = await startCpp(e, 'cpp.Bytes', [256], 'x2-bytes');
  const bytes = await bytesHandle.result();
  assert.ok(bytes instanceof Uint8Array, `expected a Uint8Array, got ${bytes && bytes.constructor.name}`);
  assert.deepEqual(Array.from(bytes), Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(await resultEncoding(bytesHandle), ['binary/plain']);

  // Uint8Array argument -> hourglass::Bytes.
  const bytesIn = await e.client.workflow.execute('cpp.BytesIn', {
    taskQueue: e.cppQueue,
    workflowId: uid('x2-bytes-in'),
    args: [Uint8Array.from([0, 1, 127, 128, 255])],
  });
  assert.deepEqual(bytesIn, { length: 5, sum: 511, hex: '00017f80ff' });

  // Task<void> -> binary/null -> undefined.
  const nothingHandle = await startCpp(e, 'cpp.Nothing', [], 'x2-nothing');
  assert.equal(await nothingHandle.result(), undefined);
  assert.deepEqual(await resultEncoding(nothingHandle), ['binary/null']);

  // std::optional<std::string>: a value, an omitted argument, undefined.
  const maybe = (args) =>
    e.client.workflow.execute('cpp.Maybe', { taskQueue: e.cppQueue, workflowId: uid('x2-maybe'), args });
  assert.equal(await maybe(['x']), 'got x');
  assert.equal(await maybe([]), undefined);
  assert.equal(await maybe([undefined]), undefined);
});

scenario('X3: a TS null argument is "no value" for a C++ std::optional parameter', async (e) => {
  // TS encodes null as json/plain "null" (undefined is binary/null).
  const handle = await startCpp(e, 'cpp.Maybe', [null], 'x3');
  const result = await h.withTimeout(handle.result(), 10000, 'cpp.Maybe(null)').catch(async (err) => {
    const events = await h.historyOf(handle);
    const wtf = h.eventsOf(events, 'WTF')[0];
    const why = wtf ? wtf.workflowTaskFailedEventAttributes.failure.message : h.eventNames(events).join(' ');
    await handle.terminate('X3 failed').catch(() => {});
    throw new Error(`cpp.Maybe(null) did not complete: ${err.message}; the C++ worker reported: ${why}`);
  });
  assert.equal(result, undefined);
});

scenario('X4: a C++ workflow failure reaches the TS client as ApplicationFailure with all its fields', async (e) => {
  const handle = await startCpp(e, 'cpp.Fail', ['declined by the test'], 'x4');
  const err = await h.rejectionOf(handle.result(), 'result()');
  assertCauseChain(err, WorkflowFailedError, ApplicationFailure);
  const app = err.cause;
  assert.equal(app.type, 'CppPaymentError');
  assert.equal(app.message, 'declined by the test');
  assert.equal(app.nonRetryable, true);
  assert.deepEqual(app.details, [{ order: 'o-1', reason: 'card declined' }, 42, 'third detail']);
  assert.equal(app.failure.source, 'HourglassCppSDK');
  await h.expectHistory(handle, 'WES WTS WTSt WTC WEF');
  assert.equal(await statusName(handle), 'FAILED');
});

scenario('X5: TS client signals (struct arguments) and queries (with arguments) a C++ workflow', async (e) => {
  const handle = await startCpp(e, 'cpp.SignalQuery', [], 'x5');
  const a = { id: 'o-a', quantity: 2, unit_price: 1, tags: [], notes: null };
  const b = { id: 'o-b', quantity: 7, unit_price: 3, tags: ['x'], notes: { k: 'v' } };
  await handle.signal('add', a);
  await handle.signal('add', b);
  await handle.signal('add', { ...a, quantity: 3 });
  assert.deepEqual(await handle.query('orders'), [a, b, { ...a, quantity: 3 }]);
  assert.equal(await handle.query('quantity_of', 'o-a'), 5);
  assert.equal(await handle.query('quantity_of', 'o-b'), 7);
  assert.equal(await handle.query('quantity_of', 'nope'), 0);
  const unknown = await h.rejectionOf(handle.query('no_such_query'), 'unknown query');
  assert.ok(unknown instanceof QueryNotRegisteredError, `${unknown.constructor.name}: ${unknown.message}`);
  assert.equal(
    unknown.message,
    'workflow cpp.SignalQuery has no handler for query "no_such_query"; known queries: orders, quantity_of',
  );
  await handle.signal('finish', 'all in');
  assert.deepEqual(await handle.result(), { orders: 3, quantity: 12, note: 'all in' });
  const events = await h.historyOf(handle);
  assert.equal(h.eventsOf(events, 'Sig').length, 4);
});

scenario('X6: TS client cancels a C++ workflow: it sees the cancellation, cleans up, ends cancelled', async (e) => {
  const handle = await startCpp(e, 'cpp.WaitForCancel', [], 'x6');
  await h.waitForEvent(handle, 'TSt');
  await handle.cancel();
  const err = await h.rejectionOf(handle.result(), 'result()');
  assertCauseChain(err, WorkflowFailedError, CancelledFailure);
  // The 24 h timer is cancelled, the cleanup timer (a detached scope) runs.
  await h.expectHistory(handle, 'WES WTS WTSt WTC TSt WECR WTS WTSt WTC TC TSt TF WTS WTSt WTC WECd');
  assert.equal(await statusName(handle), 'CANCELLED');
});

// ====================================================================
// TS workflow -> C++ activities and C++ child workflows
// ====================================================================

scenario('X7: a TS workflow calls C++ activities: results, bytes, void, failures with details and retries', async (e) => {
  const handle = await startTs(e, 'tsCallsCpp', [e.cppQueue], 'x7');
  const r = await handle.result();
  assert.deepEqual(r.compose, {
    order: { ...TS_WF_ORDER, quantity: 8 },
    composed_by: 'hourglass-cpp',
    activity_type: 'cpp.compose',
    workflow_type: 'tsCallsCpp',
    workflow_id: handle.workflowId,
    task_queue: e.cppQueue,
    attempt: 1,
  });
  assert.deepEqual(r.bytes, { isUint8Array: true, values: [255, 254, 253, 252, 251, 250, 249, 248] });
  assert.deepEqual(r.bytesToCpp, { length: 5, sum: 511, hex: '00017f80ff' });
  assert.equal(r.nothing, 'undefined');

  // Non-retryable: one attempt although the policy allows three.
  assert.equal(r.failNonRetryable.class, 'ActivityFailure');
  assert.equal(r.failNonRetryable.activityType, 'cpp.fail');
  assert.equal(r.failNonRetryable.retryState, 'NON_RETRYABLE_FAILURE');
  assert.deepEqual(r.failNonRetryable.cause, {
    class: 'ApplicationFailure',
    message: 'rejected (attempt 1)',
    type: 'CppActivityError',
    nonRetryable: true,
    details: [{ attempt: 1, sku: 'x-1' }, 'second detail'],
    source: 'HourglassCppSDK',
  });
  // Retryable: both attempts run; the last attempt's failure is reported.
  assert.equal(r.failRetryable.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
  assert.deepEqual(r.failRetryable.cause, {
    class: 'ApplicationFailure',
    message: 'flaky (attempt 2)',
    type: 'CppActivityError',
    nonRetryable: false,
    details: [{ attempt: 2, sku: 'x-1' }, 'second detail'],
    source: 'HourglassCppSDK',
  });
  const events = await h.historyOf(handle);
  const started = h.eventsOf(events, 'ATSt').map((ev) => ev.activityTaskStartedEventAttributes.attempt);
  assert.deepEqual(started, [1, 1, 1, 1, 1, 2]);
  const failed = h.eventsOf(events, 'ATF').map((ev) => ev.activityTaskFailedEventAttributes.retryState);
  assert.deepEqual(failed, [
    E.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE,
    E.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED,
  ]);
});

scenario('X8: a TS workflow cancels a heartbeating C++ activity; heartbeat and cancellation details cross over', async (e) => {
  const handle = await startTs(e, 'tsCancelsCpp', [e.cppQueue], 'x8');
  // The C++ activity's heartbeat details, as the TS client sees them.
  const pending = await h.waitUntil(
    async () => {
      const d = await handle.describe();
      const acts = d.raw.pendingActivities || [];
      if (acts.length !== 1 || !acts[0].heartbeatDetails) return null;
      const details = acts[0].heartbeatDetails.payloads.map(decoded);
      return details.length === 1 && details[0].value.beats >= 1 ? { act: acts[0], details } : null;
    },
    { timeout: 10000, what: 'heartbeat details {beats >= 1} of cpp.heartbeat_until_cancelled in describe()' },
  );
  assert.equal(pending.act.activityType.name, 'cpp.heartbeat_until_cancelled');
  assert.equal(pending.act.state, E.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED);
  assert.equal(pending.details[0].encoding, 'json/plain');
  assert.deepEqual(Object.keys(pending.details[0].value), ['beats']);

  await handle.signal('cancel_now');
  const r = await handle.result();
  assert.equal(r.isCancellation, true, JSON.stringify(r));
  assert.equal(r.error.class, 'ActivityFailure');
  assert.equal(r.error.activityType, 'cpp.heartbeat_until_cancelled');
  const cancelled = r.error.cause;
  assert.equal(cancelled.class, 'CancelledFailure');
  // The C++ activity ended cancelled with its last heartbeat and the reason.
  assert.equal(cancelled.details.length, 2, JSON.stringify(cancelled));
  assert.ok(cancelled.details[0].beats >= pending.details[0].value.beats, JSON.stringify(cancelled.details));
  assert.equal(cancelled.details[1], 'CANCELLED');
  const events = await h.expectHistory(
    handle,
    'WES WTS WTSt WTC ATSch ... Sig WTS WTSt WTC ATCR ATSt ATCd WTS WTSt WTC WEC',
  );
  const atcd = h.only(events, 'ATCd').activityTaskCanceledEventAttributes;
  assert.deepEqual(
    atcd.details.payloads.map((p) => decoded(p).value),
    cancelled.details,
    'ActivityTaskCanceled.details should be the C++ CancelledError details',
  );
});

scenario('X9: a TS workflow runs C++ child workflows: result with parent info, failure with details', async (e) => {
  const handle = await startTs(e, 'tsParentOfCpp', [e.cppQueue], 'x9');
  const r = await handle.result();
  assert.deepEqual(r.echo, {
    order: { ...TS_WF_ORDER, tags: ['ts', 'seen-by-cpp'] },
    handled_by: 'hourglass-cpp',
    total: 5,
    workflow_id: `${handle.workflowId}-cpp-echo`,
    workflow_type: 'cpp.Echo',
    task_queue: e.cppQueue,
    parent_workflow_id: handle.workflowId,
  });
  assert.equal(r.fail.class, 'ChildWorkflowFailure');
  assert.equal(r.fail.workflowType, 'cpp.Fail');
  assert.equal(r.fail.workflowId, `${handle.workflowId}-cpp-fail`);
  assert.equal(r.fail.retryState, 'RETRY_POLICY_NOT_SET'); // as Temporal reports a child without a retry policy
  assert.deepEqual(r.fail.cause, {
    class: 'ApplicationFailure',
    message: 'declined in a child',
    type: 'CppPaymentError',
    nonRetryable: true,
    details: [{ order: 'o-1', reason: 'card declined' }, 42, 'third detail'],
    source: 'HourglassCppSDK',
  });
  await h.expectHistory(handle, 'WES WTS WTSt WTC SCWEI ... CWEC ... SCWEI ... CWEF WTS WTSt WTC WEC');
});

// ====================================================================
// C++ workflow -> TS activities and TS child workflows
// ====================================================================

scenario('X10: a C++ workflow calls TS activities: results, bytes, failures (type, message, details, nonRetryable)', async (e) => {
  const handle = await startCpp(e, 'cpp.CallTs', [e.tsQueue], 'x10');
  const r = await handle.result();
  assert.deepEqual(r.compose, {
    order: {
      id: 'o-ts',
      quantity: 30,
      unit_price: 2.5,
      tags: ['from-cpp'],
      notes: { gift: true, message: 'héllo ✓' },
    },
    composedBy: 'temporal-typescript',
    activityType: 'ts.compose',
    workflowType: 'cpp.CallTs',
    workflowId: handle.workflowId,
    taskQueue: e.tsQueue,
    attempt: 1,
  });
  assert.equal(r.bytes_hex, 'fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0');
  assert.deepEqual(r.bytes_to_ts, { isUint8Array: true, length: 5, bytes: [0, 1, 127, 128, 255] });
  assert.equal(r.nothing, null);

  const nr = r.fail_non_retryable;
  assert.equal(nr.class, 'ActivityError', JSON.stringify(nr));
  assert.equal(nr.activity_type, 'ts.fail');
  assert.equal(nr.retry_state, RETRY_STATE_NON_RETRYABLE_FAILURE);
  assert.deepEqual(nr.cause, {
    class: 'ApplicationError',
    message: 'quantity must be positive (attempt 1)',
    type: 'TsValidationError',
    non_retryable: true,
    details: [{ field: 'quantity', attempt: 1 }, 'second detail'],
    has_stack_trace: true,
  });
  assert.deepEqual(probe.records(`${handle.workflowId}:ts.fail:quantity must be positive`), [1]);

  const rt = r.fail_retryable;
  assert.equal(rt.class, 'ActivityError', JSON.stringify(rt));
  assert.equal(rt.retry_state, RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
  assert.deepEqual(rt.cause, {
    class: 'ApplicationError',
    message: 'flaky (attempt 2)',
    type: 'TsValidationError',
    non_retryable: false,
    details: [{ field: 'quantity', attempt: 2 }, 'second detail'],
    has_stack_trace: true,
  });
  assert.deepEqual(probe.records(`${handle.workflowId}:ts.fail:flaky`), [1, 2]);
});

scenario('X11: a C++ workflow cancels a heartbeating TS activity (scope, WAIT_CANCELLATION_COMPLETED)', async (e) => {
  const handle = await startCpp(e, 'cpp.CancelTsActivity', [e.tsQueue], 'x11');
  const r = await handle.result();
  assert.equal(r.signalled_after_beats, 3);
  assert.equal(r.is_cancellation, true, JSON.stringify(r));
  assert.equal(r.workflow_cancel_requested, false);
  assert.equal(r.error.class, 'ActivityError');
  assert.equal(r.error.activity_type, 'ts.heartbeat_until_cancelled');
  const cause = r.error.cause;
  assert.equal(cause.class, 'CancelledError', JSON.stringify(r.error));
  // The TS activity's CancelledFailure details reach the C++ workflow.
  const seen = await probe.waitFor(`${handle.workflowId}:cancelled`, 1000);
  assert.equal(seen.isCancelledFailure, true, `the TS activity saw ${seen.message}`);
  assert.equal(seen.cancellationDetails && seen.cancellationDetails.cancelRequested, true);
  assert.deepEqual(cause.details, [{ beats: seen.beats }]);
  assert.ok(seen.beats >= 3);
  await h.expectHistory(handle, 'WES WTS WTSt WTC ATSch ... Sig WTS WTSt WTC ATCR ATSt ATCd WTS WTSt WTC WEC');
});

scenario('X12: a C++ workflow runs TS child workflows on the TS queue: result with parent info, failure cause', async (e) => {
  const handle = await startCpp(e, 'cpp.ChildTs', [e.tsQueue], 'x12');
  const r = await handle.result();
  const sent = { id: 'o-child', quantity: 2, unit_price: 10, tags: ['child'], notes: null };
  assert.deepEqual(r.greet, {
    greeting: 'hello o-child',
    received: sent,
    parentWorkflowId: handle.workflowId,
    taskQueue: e.tsQueue,
  });
  const f = r.fail;
  assert.equal(f.class, 'ChildWorkflowError', JSON.stringify(f));
  assert.equal(f.workflow_type, 'tsChildFail');
  assert.equal(f.workflow_id, `${handle.workflowId}-fail`);
  assert.equal(f.namespace, h.NAMESPACE);
  assert.equal(f.retry_state, RETRY_STATE_RETRY_POLICY_NOT_SET);
  assert.deepEqual(f.cause, {
    class: 'ApplicationError',
    message: 'out of stock',
    type: 'TsChildError',
    non_retryable: true,
    details: [{ sku: 'x-2', left: 0 }, 'restock'],
    has_stack_trace: true,
  });
  const child = e.client.workflow.getHandle(`${handle.workflowId}-fail`);
  assert.equal(await statusName(child), 'FAILED');
  await h.expectHistory(handle, 'WES WTS WTSt WTC SCWEI ... CWEC ... SCWEI ... CWEF WTS WTSt WTC WEC');
});

scenario('X13: a C++ workflow cancels a started TS child through its scope (WAIT_CANCELLATION_COMPLETED)', async (e) => {
  const handle = await startCpp(e, 'cpp.CancelTsChild', [e.tsQueue], 'x13');
  const childId = `${handle.workflowId}-waiter`;
  const r = await h.withTimeout(handle.result(), 10000, 'cpp.CancelTsChild result').catch(async (err) => {
    const names = h.eventNames(await h.historyOf(handle)).join(' ');
    const childStatus = await statusName(e.client.workflow.getHandle(childId)).catch((x) => x.message);
    await e.client.workflow.getHandle(childId).terminate('X13 failed').catch(() => {});
    await handle.terminate('X13 failed').catch(() => {});
    throw new Error(`${err.message}; parent history: ${names}; child status: ${childStatus}`);
  });
  assert.equal(r.child_workflow_id, childId);
  assert.equal(r.child_run_id_set, true);
  assert.equal(r.is_cancellation, true, JSON.stringify(r));
  assert.equal(r.error.class, 'ChildWorkflowError');
  assert.equal(r.error.workflow_type, 'tsChildWaitCancel');
  assert.equal(r.error.cause.class, 'CancelledError', JSON.stringify(r.error));
  const child = e.client.workflow.getHandle(childId);
  assert.equal(await statusName(child), 'CANCELLED');
  // The parent asks for the child's cancellation and, waiting for completion,
  // resumes only once the child has ended cancelled.
  const events = await h.expectHistory(
    handle,
    'WES WTS WTSt WTC SCWEI CWES WTS WTSt WTC RCEWEI ... EWECR ... CWECd WTS WTSt WTC WEC',
  );
  const rcewei = h.only(events, 'RCEWEI').requestCancelExternalWorkflowExecutionInitiatedEventAttributes;
  assert.equal(rcewei.childWorkflowOnly, true);
  assert.equal(rcewei.workflowExecution.workflowId, childId);
  await h.expectHistory(child, 'WES WTS ... WECR ... WTC WECd');
});
