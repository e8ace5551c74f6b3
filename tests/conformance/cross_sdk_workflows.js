'use strict';
// TypeScript-SDK workflows of the cross-SDK suite (cross_sdk.test.js),
// bundled on their own and served by the official TS Worker on the TS task
// queue. They call the C++ activities and workflows of
// hourglass-cross-sdk-worker (tests/conformance/cross_sdk/cross_sdk_worker.cc)
// on the C++ task queue, or are the children the C++ workflows start.
//
// Keep this file deterministic: no I/O, no Date/Math.random outside what the
// workflow sandbox provides.

const wf = require('@temporalio/workflow');

const { ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, TimeoutFailure } = wf;

/** A failure as plain data (class, fields of its kind, cause chain), for the test to assert. */
function describeFailure(err) {
  if (!err || typeof err !== 'object') return { class: typeof err, value: String(err) };
  const out = { message: err.message };
  if (err instanceof ApplicationFailure) {
    out.class = 'ApplicationFailure';
    out.type = err.type;
    out.nonRetryable = err.nonRetryable;
    out.details = err.details;
  } else if (err instanceof CancelledFailure) {
    out.class = 'CancelledFailure';
    out.details = err.details;
  } else if (err instanceof ActivityFailure) {
    out.class = 'ActivityFailure';
    out.activityType = err.activityType;
    out.retryState = err.retryState;
  } else if (err instanceof ChildWorkflowFailure) {
    out.class = 'ChildWorkflowFailure';
    out.workflowType = err.workflowType;
    out.workflowId = err.execution && err.execution.workflowId;
    out.retryState = err.retryState;
  } else if (err instanceof TimeoutFailure) {
    out.class = 'TimeoutFailure';
  } else {
    out.class = err.name || 'Error';
  }
  if (err.failure && err.failure.source !== undefined) out.source = err.failure.source;
  if (err.cause) out.cause = describeFailure(err.cause);
  return out;
}

const ORDER = {
  id: 'o-ts-wf',
  quantity: 4,
  unit_price: 1.25,
  tags: ['ts'],
  notes: { text: 'grüße ✓', nested: { list: [1, null, { x: 'y' }] } },
};

// ------------------------------------------------ TS workflow -> C++ activities

exports.tsCallsCpp = async function tsCallsCpp(cppQueue) {
  const cpp = wf.proxyActivities({ taskQueue: cppQueue, startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } });
  const out = {};
  out.compose = await cpp['cpp.compose'](ORDER);
  const bytes = await cpp['cpp.bytes'](8);
  out.bytes = { isUint8Array: bytes instanceof Uint8Array, values: Array.from(bytes) };
  out.bytesToCpp = await cpp['cpp.bytes_length'](Uint8Array.from([0, 1, 127, 128, 255]));
  const nothing = await cpp['cpp.nothing']();
  out.nothing = nothing === undefined ? 'undefined' : { unexpected: nothing };

  const three = wf.proxyActivities({
    taskQueue: cppQueue,
    startToCloseTimeout: '10s',
    retry: { maximumAttempts: 3, initialInterval: '100ms', backoffCoefficient: 1 },
  });
  try {
    await three['cpp.fail']('rejected', true);
    out.failNonRetryable = 'no error';
  } catch (err) {
    out.failNonRetryable = describeFailure(err);
  }
  const two = wf.proxyActivities({
    taskQueue: cppQueue,
    startToCloseTimeout: '10s',
    retry: { maximumAttempts: 2, initialInterval: '100ms', backoffCoefficient: 1 },
  });
  try {
    await two['cpp.fail']('flaky', false);
    out.failRetryable = 'no error';
  } catch (err) {
    out.failRetryable = describeFailure(err);
  }
  return out;
};

// Cancels a heartbeating C++ activity when the test signals "cancel_now"
// (after it has seen the activity's heartbeat details through describe()).
exports.tsCancelsCpp = async function tsCancelsCpp(cppQueue) {
  const cpp = wf.proxyActivities({
    taskQueue: cppQueue,
    startToCloseTimeout: '60s',
    heartbeatTimeout: '2s',
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1 },
  });
  let go = false;
  wf.setHandler(wf.defineSignal('cancel_now'), () => {
    go = true;
  });
  const scope = new wf.CancellationScope();
  const activity = scope.run(() => cpp['cpp.heartbeat_until_cancelled'](100));
  await wf.condition(() => go);
  scope.cancel();
  try {
    return { completed: await activity };
  } catch (err) {
    return { isCancellation: wf.isCancellation(err), error: describeFailure(err) };
  }
};

// ------------------------------------------------ TS workflow -> C++ children

exports.tsParentOfCpp = async function tsParentOfCpp(cppQueue) {
  const id = wf.workflowInfo().workflowId;
  const out = {};
  out.echo = await wf.executeChild('cpp.Echo', { taskQueue: cppQueue, workflowId: `${id}-cpp-echo`, args: [ORDER] });
  try {
    await wf.executeChild('cpp.Fail', {
      taskQueue: cppQueue,
      workflowId: `${id}-cpp-fail`,
      args: ['declined in a child'],
    });
    out.fail = 'no error';
  } catch (err) {
    out.fail = describeFailure(err);
  }
  return out;
};

// ------------------------------------------------ TS children of C++ workflows

exports.tsChildGreet = async function tsChildGreet(order) {
  const info = wf.workflowInfo();
  return {
    greeting: `hello ${order.id}`,
    received: order,
    parentWorkflowId: info.parent ? info.parent.workflowId : null,
    taskQueue: info.taskQueue,
  };
};

exports.tsChildFail = async function tsChildFail(message) {
  throw ApplicationFailure.create({
    message,
    type: 'TsChildError',
    details: [{ sku: 'x-2', left: 0 }, 'restock'],
    nonRetryable: true,
  });
};

// Waits until cancelled: the CancelledFailure ends the run as cancelled.
exports.tsChildWaitCancel = async function tsChildWaitCancel() {
  await wf.condition(() => false);
};
