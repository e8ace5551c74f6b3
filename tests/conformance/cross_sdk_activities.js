'use strict';
// TypeScript-SDK activities of the cross-SDK suite (cross_sdk.test.js). They
// run in the test process, in the official TS Worker on the TS task queue,
// and are called by the C++ workflows of hourglass-cross-sdk-worker
// (tests/conformance/cross_sdk/cross_sdk_worker.cc). What they observe goes
// to probe.js under "<workflow id>:<what>".

const { Context } = require('@temporalio/activity');
const { ApplicationFailure, CancelledFailure } = require('@temporalio/common');

const probe = require('./probe');

/**
 * Activities by Temporal type name. `getClient()` returns the test's
 * @temporalio/client Client (used to signal the calling workflow).
 */
function createActivities({ getClient }) {
  return {
    /** Structured JSON from C++ back with fields added. */
    async 'ts.compose'(order) {
      const { info } = Context.current();
      return {
        order: { ...order, quantity: order.quantity * 10 },
        composedBy: 'temporal-typescript',
        activityType: info.activityType,
        workflowType: info.workflowType,
        workflowId: info.workflowExecution.workflowId,
        taskQueue: info.taskQueue,
        attempt: info.attempt,
      };
    },

    /** `n` bytes, 0xff, 0xfe, …: binary/plain for the C++ side's hourglass::Bytes. */
    async 'ts.bytes'(n) {
      return Uint8Array.from({ length: n }, (_, i) => 255 - (i % 256));
    },

    /** What a binary/plain argument from C++ looks like here. */
    async 'ts.bytes_length'(bytes) {
      return {
        isUint8Array: bytes instanceof Uint8Array,
        length: bytes.length,
        bytes: Array.from(bytes),
      };
    },

    /** Returns undefined: binary/null. */
    async 'ts.nothing'() {
      return undefined;
    },

    /** Fails with every field an ApplicationFailure carries. */
    async 'ts.fail'(message, nonRetryable) {
      const { info } = Context.current();
      probe.record(`${info.workflowExecution.workflowId}:ts.fail:${message}`, info.attempt);
      throw ApplicationFailure.create({
        message: `${message} (attempt ${info.attempt})`,
        type: 'TsValidationError',
        details: [{ field: 'quantity', attempt: info.attempt }, 'second detail'],
        nonRetryable,
      });
    },

    /**
     * Heartbeats {beats: n} every 100 ms; after three beats signals the
     * calling workflow "ts_heartbeating" (once). When cancelled, ends as
     * cancelled with {beats} as the CancelledFailure's details.
     */
    async 'ts.heartbeat_until_cancelled'(workflowId) {
      const ctx = Context.current();
      const key = ctx.info.workflowExecution.workflowId;
      let beats = 0;
      try {
        for (;;) {
          ctx.heartbeat({ beats });
          if (beats === 3) await getClient().workflow.getHandle(workflowId).signal('ts_heartbeating', beats);
          beats += 1;
          await ctx.sleep(100); // rejects with CancelledFailure once cancellation arrives
        }
      } catch (err) {
        probe.notify(`${key}:cancelled`, {
          isCancelledFailure: err instanceof CancelledFailure,
          message: err && err.message,
          beats,
          cancellationDetails: ctx.cancellationDetails ? { ...ctx.cancellationDetails } : undefined,
        });
        if (err instanceof CancelledFailure) {
          throw new CancelledFailure(`ts activity cancelled after ${beats} heartbeats`, [{ beats }]);
        }
        throw err;
      }
    },
  };
}

module.exports = { createActivities };
