'use strict';
// Workflows of the conformance suite. Bundled once by the harness with
// bundleWorkflowCode (webpack, inside @temporalio/worker); every exported
// function is registered under its export name as the workflow type.
//
// Keep this file deterministic: no I/O, no Date/Math.random outside what the
// workflow sandbox provides.

const wf = require('@temporalio/workflow');
const { WorkflowExecutionAlreadyStartedError, defineSearchAttributeKey } = require('@temporalio/common');

const goSignal = wf.defineSignal('go');
const finishSignal = wf.defineSignal('finish');
const stateQuery = wf.defineQuery('state');

// Activities used with the default options of the suite.
const acts = wf.proxyActivities({ startToCloseTimeout: '30s' });

// ---------------------------------------------------------------- S1, S21
exports.hello = async function hello() {
  return 'hi';
};

exports.listMe = async function listMe() {
  return wf.workflowInfo().workflowId;
};

// ---------------------------------------------------------------- S2
exports.oneActivity = async function oneActivity(name) {
  return await acts.echo(name);
};

// ------------------------------------------- S3, S14, S15, S32, S34, S35
exports.sleeper = async function sleeper(duration) {
  await wf.sleep(duration);
  return `slept ${duration}`;
};

// --------------------------------------- S4, S5, S6, S22, S30, S31, S36, S37
// Blocks until `n` "go" signals arrived. Query "state" reports progress.
exports.waitSignals = async function waitSignals(n = 1) {
  let count = 0;
  const senders = [];
  wf.setHandler(goSignal, (from) => {
    count += 1;
    if (from !== undefined && senders.length < 10) senders.push(from);
  });
  wf.setHandler(stateQuery, (tag) => ({ count, wanted: n, tag: tag ?? null, senders }));
  await wf.condition(() => count >= n);
  return { count, senders };
};

// ---------------------------------------------------------------- S7, S35
exports.retryingActivity = async function retryingActivity(succeedOnAttempt = 3, initialInterval = '100ms') {
  const a = wf.proxyActivities({
    startToCloseTimeout: '10s',
    retry: { initialInterval, backoffCoefficient: 1, maximumAttempts: 10 },
  });
  return await a.failUntilAttempt(succeedOnAttempt);
};

// ---------------------------------------------------------------- S8
exports.nonRetryableActivity = async function nonRetryableActivity() {
  return await acts.throwNonRetryable();
};

// ---------------------------------------------------------------- S9
exports.maxAttemptsActivity = async function maxAttemptsActivity() {
  const a = wf.proxyActivities({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '100ms', maximumAttempts: 2 },
  });
  return await a.alwaysFails();
};

// ---------------------------------------------------------------- S10
exports.startToCloseTimeout = async function startToCloseTimeout() {
  const a = wf.proxyActivities({ startToCloseTimeout: '1s', retry: { maximumAttempts: 1 } });
  return await a.sleepMs(3000);
};

// ---------------------------------------------------------------- S11
exports.heartbeatTimeout = async function heartbeatTimeout() {
  const a = wf.proxyActivities({
    startToCloseTimeout: '30s',
    heartbeatTimeout: '1s',
    retry: { initialInterval: '100ms', maximumAttempts: 3 },
  });
  return await a.heartbeatThenHang(5);
};

// ---------------------------------------------------------------- S12
// Cancels a running, heartbeating activity one second after scheduling it and
// waits for the cancellation to be confirmed.
exports.cancelRunningActivity = async function cancelRunningActivity() {
  const a = wf.proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '4s',
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1 },
  });
  const scope = new wf.CancellationScope();
  const p = scope.run(() => a.heartbeatUntilCancelled());
  await wf.sleep('1s');
  scope.cancel();
  try {
    await p;
    return 'activity completed';
  } catch (err) {
    if (wf.isCancellation(err)) return 'activity cancelled';
    throw err;
  }
};

// ---------------------------------------------------------------- S13
// Schedules an activity on a task queue nobody polls, then cancels it.
exports.cancelUnstartedActivity = async function cancelUnstartedActivity(taskQueue, cancellationType) {
  const a = wf.proxyActivities({
    taskQueue,
    startToCloseTimeout: '60s',
    cancellationType,
    retry: { maximumAttempts: 1 },
  });
  const scope = new wf.CancellationScope();
  const p = scope.run(() => a.echo('never runs'));
  await wf.sleep('100ms');
  scope.cancel();
  try {
    await p;
    return 'activity completed';
  } catch (err) {
    if (wf.isCancellation(err)) return 'activity cancelled';
    throw err;
  }
};

// ---------------------------------------------------------------- S16
exports.throwPlainError = async function throwPlainError() {
  throw new Error('conformance: plain Error fails the workflow task');
};

// ---------------------------------------------------------------- S17
exports.asyncCompleted = async function asyncCompleted() {
  return await acts.completeAsync();
};

// ---------------------------------------------------------------- S18
exports.activityUntilTerminated = async function activityUntilTerminated() {
  const a = wf.proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '4s',
    retry: { maximumAttempts: 1 },
  });
  return await a.heartbeatUntilCancelled();
};

// ---------------------------------------------------------------- S19
exports.searchAttributesAndMemo = async function searchAttributesAndMemo(keywordValue) {
  wf.upsertSearchAttributes([
    { key: defineSearchAttributeKey('CustomKeywordField', 'KEYWORD'), value: keywordValue },
  ]);
  wf.upsertMemo({ conformance: 'memo-value', n: 42 });
  return 'upserted';
};

// ---------------------------------------------------------------- S20
exports.patchedWorkflow = async function patchedWorkflow() {
  if (wf.patched('v1')) return 'patched v1';
  return 'unpatched';
};

// ---------------------------------------------------------------- S24
exports.longLocalActivity = async function longLocalActivity(ms) {
  const la = wf.proxyLocalActivities({ startToCloseTimeout: '60s', retry: { maximumAttempts: 1 } });
  return await la.sleepMs(ms);
};

// ---------------------------------------------------------------- S25
// After the first "go" signal runs a local activity (which tells the test it
// is running, so the test can send the second signal during it), then returns.
exports.localActivityAfterSignal = async function localActivityAfterSignal(ms) {
  let count = 0;
  wf.setHandler(goSignal, () => {
    count += 1;
  });
  await wf.condition(() => count >= 1);
  const la = wf.proxyLocalActivities({ startToCloseTimeout: '60s', retry: { maximumAttempts: 1 } });
  await la.notifyThenSleep(ms);
  return 'done';
};

// ---------------------------------------------------------------- S26
exports.continueAsNewChain = async function continueAsNewChain(n) {
  if (n > 0) {
    await wf.continueAsNew(n - 1);
  }
  return 'chain done';
};

// ---------------------------------------------------------------- S27
exports.childReturns = async function childReturns(x) {
  return `child:${x}`;
};

exports.parentExecutesChild = async function parentExecutesChild(x) {
  return await wf.executeChild(exports.childReturns, {
    workflowId: `${wf.workflowInfo().workflowId}-child`,
    args: [x],
  });
};

// ---------------------------------------------------------------- S28
exports.parentChildAlreadyRunning = async function parentChildAlreadyRunning(childId) {
  try {
    await wf.startChild('waitSignals', { workflowId: childId, args: [1] });
    return 'child started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already started';
    throw err;
  }
};

// ---------------------------------------------------------------- S29
// Starts a child that sleeps for a day with the given parent close policy and
// returns once the test sends "finish".
exports.parentLeavesChild = async function parentLeavesChild(parentClosePolicy) {
  const child = await wf.startChild(exports.sleeper, {
    workflowId: `${wf.workflowInfo().workflowId}-child`,
    args: ['1d'],
    parentClosePolicy,
  });
  let finished = false;
  wf.setHandler(finishSignal, () => {
    finished = true;
  });
  await wf.condition(() => finished);
  return child.workflowId;
};

// ---------------------------------------------------------------- S30
exports.signalExternal = async function signalExternal(targetId) {
  try {
    await wf.getExternalWorkflowHandle(targetId).signal(goSignal, wf.workflowInfo().workflowId);
    return 'signaled';
  } catch (err) {
    return `signal failed: ${err.name}: ${err.message}`;
  }
};

// ---------------------------------------------------------------- S31
exports.cancelExternal = async function cancelExternal(targetId) {
  try {
    await wf.getExternalWorkflowHandle(targetId).cancel();
    return 'cancel requested';
  } catch (err) {
    return `cancel failed: ${err.name}: ${err.message}`;
  }
};

// ---------------------------------------------------------------- S33
exports.failFirstAttempt = async function failFirstAttempt() {
  const { attempt } = wf.workflowInfo();
  if (attempt === 1) {
    throw wf.ApplicationFailure.retryable('conformance: attempt 1 fails', 'FirstAttemptFails');
  }
  return `succeeded on attempt ${attempt}`;
};
