'use strict';
// Activities of the conformance suite. They run inside the test process (in
// the TS worker), so they report to the scenarios through ./probe, keyed by
// the id of the workflow that scheduled them.

const { Context, CompleteAsyncError } = require('@temporalio/activity');
const { ApplicationFailure, CancelledFailure } = require('@temporalio/common');
const probe = require('./probe');

function ctx() {
  return Context.current();
}

function workflowId() {
  return ctx().info.workflowExecution.workflowId;
}

async function echo(x) {
  return x;
}

// S7, S35: fails every attempt before `n`, succeeds on attempt `n`.
async function failUntilAttempt(n) {
  const { attempt } = ctx().info;
  probe.record(`${workflowId()}:attempts`, attempt);
  probe.notify(`${workflowId()}:attempt-${attempt}`, Date.now());
  if (attempt < n) {
    throw ApplicationFailure.retryable(`attempt ${attempt} fails on purpose`, 'ConformanceFlaky');
  }
  return `succeeded on attempt ${attempt}`;
}

// S8
async function throwNonRetryable() {
  throw ApplicationFailure.nonRetryable('conformance: non-retryable', 'ConformanceNonRetryable');
}

// S9
async function alwaysFails() {
  const { attempt } = ctx().info;
  probe.record(`${workflowId()}:attempts`, attempt);
  throw ApplicationFailure.create({ message: `attempt ${attempt} always fails`, type: 'ConformanceAlwaysFails' });
}

// S10 (regular activity), S24 (local activity). Cancellation-aware sleep, so
// worker shutdown never waits for it.
async function sleepMs(ms) {
  await ctx().sleep(ms);
  return `slept ${ms} ms`;
}

// S11: attempt 1 heartbeats `value` and then hangs (no more heartbeats);
// later attempts return the heartbeat details of the previous attempt.
async function heartbeatThenHang(value) {
  const c = ctx();
  const { attempt } = c.info;
  probe.record(`${workflowId()}:attempts`, attempt);
  if (attempt === 1) {
    c.heartbeat(value);
    // Bounded hang: ends with the worker (cancellation) or after 20 s at most.
    await c.sleep(20000);
    throw new Error('heartbeatThenHang: attempt 1 was not timed out by the server');
  }
  return c.info.heartbeatDetails;
}

// S12, S18: heartbeats every 100 ms until cancelled; reports start and the
// cancellation details to the probe.
async function heartbeatUntilCancelled() {
  const c = ctx();
  const wid = workflowId();
  probe.notify(`${wid}:started`, { attempt: c.info.attempt, activityId: c.info.activityId });
  const deadline = Date.now() + 60000;
  let i = 0;
  try {
    while (Date.now() < deadline) {
      c.heartbeat(i++);
      await c.sleep(100);
    }
  } catch (err) {
    const d = c.cancellationDetails;
    probe.notify(`${wid}:cancelled`, {
      error: err,
      isCancelledFailure: err instanceof CancelledFailure,
      details: d
        ? {
            notFound: d.notFound,
            cancelRequested: d.cancelRequested,
            timedOut: d.timedOut,
            workerShutdown: d.workerShutdown,
            paused: d.paused,
            reset: d.reset,
          }
        : undefined,
    });
    throw err;
  }
  return 'never cancelled';
}

// S17: hands its task token to the scenario and completes asynchronously.
async function completeAsync() {
  const { info } = ctx();
  probe.notify(`${workflowId()}:async`, {
    taskToken: info.taskToken,
    activityId: info.activityId,
    workflowId: info.workflowExecution.workflowId,
    runId: info.workflowExecution.runId,
  });
  throw new CompleteAsyncError();
}

// S25 (local activity): tells the scenario it is running, then sleeps.
async function notifyThenSleep(ms) {
  const c = ctx();
  probe.record(`${workflowId()}:la-runs`, Date.now());
  probe.notify(`${workflowId()}:la-running`, Date.now());
  await c.sleep(ms);
  return `slept ${ms} ms`;
}

module.exports = {
  echo,
  failUntilAttempt,
  throwNonRetryable,
  alwaysFails,
  sleepMs,
  heartbeatThenHang,
  heartbeatUntilCancelled,
  completeAsync,
  notifyThenSleep,
};
