'use strict';
// Acceptance scenarios S1–S34, S36 and S37 of
// shared/reference/temporal-server-semantics.md §9.2, run with the official
// TypeScript SDK (1.24.0) against ONE hourglass-devserver instance and one
// main worker. S35 (kill -9 of the server) is in durability.test.js.
//
// Every scenario uses its own workflow ids; the few that need a task queue of
// their own (S13 unpolled queue, S36 uncached worker, S37 worker restart) make
// one. Long, timer-bound scenarios run concurrently with each other and with
// the sequential group, so the file takes about as long as its longest
// scenario (S34, 35 s) plus the sequential group.

const { describe } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const {
  WorkflowFailedError,
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
} = require('@temporalio/client');
const { defineSearchAttributeKey, SearchAttributeType } = require('@temporalio/common');

const h = require('./harness');
const probe = require('./probe');

const E = h.enums;
const { scenario } = h.suiteEnv({ name: 'main' });
const uid = h.uid;

// ------------------------------------------------------------ local helpers

/** Asserts err, err.cause, err.cause.cause, … are instances of `classes`. */
function assertCauseChain(err, ...classes) {
  const chain = [];
  for (let e = err; e; e = e.cause) chain.push(`${e.constructor && e.constructor.name}(${e.message})`);
  let e = err;
  classes.forEach((cls, i) => {
    assert.ok(
      e instanceof cls,
      `error chain position ${i} should be a ${cls.name}; chain: ${chain.join(' → ') || String(err)}`,
    );
    e = e.cause;
  });
}

/** Waits until the first workflow task of `handle` completed. */
const firstTaskDone = (handle) => h.waitForEvent(handle, 'WTC', 1);

async function runInParallel(count, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const i = next++;
        await fn(i);
      }
    }),
  );
}

const statusCode = async (handle) => (await handle.describe()).raw.workflowExecutionInfo.status;

// The reference table's patterns, with the timing variants it lists.
const P = {
  S1: 'WES WTS WTSt WTC WEC',
  S2: 'WES WTS WTSt WTC ATSch ATSt ATC WTS WTSt WTC WEC',
  S3: 'WES WTS WTSt WTC TSt TF WTS WTSt WTC WEC',
  // "signal after first WT"; variant: the signal beats the first poll.
  S4: 'WES WTS ( WTSt WTC Sig WTS | Sig ) WTSt WTC WEC',
  S5: 'WES Sig WTS WTSt WTC WEC',
};

describe('hourglass-devserver conformance (TS SDK 1.24.0)', { concurrency: true }, () => {
  // ====================================================================
  // Scenarios bound by real time: run concurrently with everything else.
  // ====================================================================
  describe('timer-bound scenarios (concurrent)', { concurrency: true }, () => {
    scenario('S34: 35 s timer, handle.result() across the 20 s history long-poll', { timeout: 120000 }, async (e) => {
      const t0 = Date.now();
      const handle = await e.start('sleeper', { args: ['35s'], workflowId: uid('s34') });
      assert.equal(await handle.result(), 'slept 35s');
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 34500, `result arrived after ${elapsed} ms, before the 35 s timer could fire`);
      assert.ok(elapsed < 75000, `result arrived only after ${elapsed} ms`);
      const events = await h.expectHistory(handle, P.S3);
      const fired = h.timestampMs(h.only(events, 'TF').eventTime) - h.timestampMs(h.only(events, 'TSt').eventTime);
      assert.ok(fired >= 34900, `TimerFired only ${fired} ms after TimerStarted`);
    });

    scenario('S24: local activity of 12 s under a 10 s workflow-task timeout (WT heartbeat)', { timeout: 90000 }, async (e) => {
      const handle = await e.start('longLocalActivity', { args: [12000], workflowId: uid('s24') });
      assert.equal(await handle.result(), 'slept 12000 ms');
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC WTS WTSt WTC MR WEC');
      assert.equal(h.only(events, 'MR').markerRecordedEventAttributes.markerName, 'core_local_activity');
    });

    scenario('S16: workflow throws a plain Error (WT failure), then terminate', { timeout: 90000 }, async (e) => {
      // A 2 s workflow-task timeout instead of the default 10 s: attempt 2
      // is not reported by Core and has to time out; attempt 3 shows that.
      const handle = await e.start('throwPlainError', { workflowId: uid('s16'), workflowTaskTimeout: '2s' });
      await h.waitForEvent(handle, 'WTF');
      const attemptOf = async () => {
        const d = await handle.describe();
        const p = d.raw.pendingWorkflowTask;
        return p ? h.num(p.attempt) : 0;
      };
      await h.waitUntil(async () => (await attemptOf()) >= 2, {
        what: 'DescribeWorkflowExecution.pending_workflow_task.attempt >= 2 after the WT failure',
      });
      await h.waitUntil(async () => (await attemptOf()) >= 3, {
        timeout: 30000,
        what: 'pending_workflow_task.attempt >= 3 (attempt 2 must hit its 2 s start-to-close timeout)',
      });
      await handle.terminate('S16 done');
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, TerminatedFailure);
      // Attempts >= 2 may be persisted (WTS, WTSt, WTTO per attempt) or kept
      // transient as the real server does.
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTF ( WTS WTSt WTTO )* [ WTS [ WTSt ] ] WET');
      const wtf = h.only(events, 'WTF').workflowTaskFailedEventAttributes;
      assert.equal(wtf.cause, E.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE);
      assert.match(wtf.failure.message, /plain Error fails the workflow task/);
      for (const ev of h.eventsOf(events, 'WTTO')) {
        assert.equal(ev.workflowTaskTimedOutEventAttributes.timeoutType, E.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
      }
      assert.equal(await statusCode(handle), E.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED);
    });

    scenario('S36: 600 signals to a worker with maxCachedWorkflows 0 (history paging)', { timeout: 180000 }, async (e) => {
      const w = await e.startWorker({ taskQueue: uid('s36'), maxCachedWorkflows: 0 });
      try {
        const handle = await e.start('waitSignals', { args: [600], workflowId: uid('s36'), taskQueue: w.taskQueue });
        await runInParallel(600, 8, () => handle.signal('go'));
        const result = await handle.result();
        assert.equal(result.count, 600);
        const events = await h.expectHistory(handle, 'WES WTS WTSt WTC ( Sig | WTS | WTSt | WTC )* WEC');
        assert.equal(h.eventsOf(events, 'Sig').length, 600);
        // Page through the history with a small page size: pages never exceed
        // it, and their concatenation is the whole, dense history.
        const desc = await handle.describe();
        const execution = { workflowId: handle.workflowId, runId: desc.runId };
        const ids = [];
        let token;
        let pages = 0;
        do {
          const res = await e.client.workflowService.getWorkflowExecutionHistory({
            namespace: h.NAMESPACE,
            execution,
            maximumPageSize: 100,
            nextPageToken: token,
          });
          const evs = (res.history && res.history.events) || [];
          assert.ok(evs.length <= 100, `a page of maximum_page_size 100 held ${evs.length} events`);
          ids.push(...evs.map((ev) => h.num(ev.eventId)));
          token = res.nextPageToken;
          pages += 1;
          assert.ok(pages <= 100, 'history paging does not terminate');
        } while (token && token.length > 0);
        assert.deepEqual(ids, events.map((ev) => h.num(ev.eventId)), 'paged history differs from fetchHistory()');
        assert.ok(pages >= Math.ceil(events.length / 100), `${events.length} events came in only ${pages} page(s)`);
      } finally {
        await w.stop();
      }
    });

    scenario('S37: worker stops mid-workflow, a new worker resumes it (sticky fallback)', { timeout: 90000 }, async (e) => {
      const taskQueue = uid('s37');
      const w1 = await e.startWorker({ taskQueue, stickyQueueScheduleToStartTimeout: '2s' });
      let w2;
      try {
        const handle = await e.start('waitSignals', { args: [2], workflowId: uid('s37'), taskQueue });
        await firstTaskDone(handle);
        await handle.signal('go');
        await h.waitForEvent(handle, 'WTC', 2);
        await w1.stop(); // the run was cached (and sticky) in w1
        w2 = await e.startWorker({ taskQueue });
        await handle.signal('go');
        const result = await handle.result();
        assert.equal(result.count, 2);
        // Non-sticky servers dispatch on the normal queue at once; a sticky
        // one may first time out the sticky task (SCHEDULE_TO_START).
        const events = await h.expectHistory(
          handle,
          'WES WTS WTSt WTC Sig WTS WTSt WTC Sig WTS [ WTTO WTS ] WTSt WTC WEC',
        );
        for (const ev of h.eventsOf(events, 'WTTO')) {
          assert.equal(ev.workflowTaskTimedOutEventAttributes.timeoutType, E.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
        }
      } finally {
        await w1.stop();
        if (w2) await w2.stop();
      }
    });

    scenario('S3: sleep 1 s', { timeout: 60000 }, async (e) => {
      const handle = await e.start('sleeper', { args: ['1s'], workflowId: uid('s3') });
      assert.equal(await handle.result(), 'slept 1s');
      const events = await h.expectHistory(handle, P.S3);
      const tst = h.only(events, 'TSt');
      const tf = h.only(events, 'TF');
      assert.equal(h.num(tf.timerFiredEventAttributes.startedEventId), h.num(tst.eventId));
      assert.equal(tf.timerFiredEventAttributes.timerId, tst.timerStartedEventAttributes.timerId);
      const fired = h.timestampMs(tf.eventTime) - h.timestampMs(tst.eventTime);
      assert.ok(fired >= 990, `TimerFired ${fired} ms after TimerStarted (timer of 1 s)`);
    });

    scenario('S32: workflowRunTimeout 2 s while sleeping 1 h', { timeout: 60000 }, async (e) => {
      const t0 = Date.now();
      const handle = await e.start('sleeper', { args: ['1h'], workflowId: uid('s32'), workflowRunTimeout: '2s' });
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, TimeoutFailure);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 1900, `timed out after ${elapsed} ms, before the 2 s run timeout`);
      await h.expectHistory(handle, 'WES WTS WTSt WTC TSt WETO');
      assert.equal(await statusCode(handle), E.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT);
    });

    scenario('S10: activity start-to-close timeout 1 s, activity sleeps 3 s, maximumAttempts 1', { timeout: 60000 }, async (e) => {
      const handle = await e.start('startToCloseTimeout', { workflowId: uid('s10') });
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, ActivityFailure, TimeoutFailure);
      assert.equal(err.cause.cause.timeoutType, 'START_TO_CLOSE');
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC ATSch ATSt ATTO WTS WTSt WTC WEF');
      const atto = h.only(events, 'ATTO');
      const a = atto.activityTaskTimedOutEventAttributes;
      assert.equal(a.failure.timeoutFailureInfo.timeoutType, E.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
      assert.equal(a.retryState, E.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
      const took = h.timestampMs(atto.eventTime) - h.timestampMs(h.only(events, 'ATSch').eventTime);
      assert.ok(took >= 990, `ActivityTaskTimedOut only ${took} ms after scheduling (start-to-close 1 s)`);
    });

    scenario('S11: heartbeat timeout 1 s; attempt 2 gets the heartbeat details of attempt 1', { timeout: 60000 }, async (e) => {
      const handle = await e.start('heartbeatTimeout', { workflowId: uid('s11') });
      assert.equal(await handle.result(), 5);
      const events = await h.expectHistory(handle, P.S2);
      const started = h.only(events, 'ATSt').activityTaskStartedEventAttributes;
      assert.equal(started.attempt, 2);
      assert.ok(started.lastFailure, 'ActivityTaskStarted.last_failure should hold the heartbeat timeout of attempt 1');
      assert.ok(started.lastFailure.timeoutFailureInfo, 'last_failure should be a timeout failure');
      assert.equal(started.lastFailure.timeoutFailureInfo.timeoutType, E.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
      assert.deepEqual(probe.records(`${handle.workflowId}:attempts`), [1, 2]);
    });

    scenario('S12: cancel a running heartbeating activity (WAIT_CANCELLATION_COMPLETED)', { timeout: 60000 }, async (e) => {
      const handle = await e.start('cancelRunningActivity', { workflowId: uid('s12') });
      assert.equal(await handle.result(), 'activity cancelled');
      const started = await probe.waitFor(`${handle.workflowId}:started`, 1000);
      assert.equal(started.attempt, 1);
      const cancelled = await probe.waitFor(`${handle.workflowId}:cancelled`, 1000);
      assert.ok(cancelled.isCancelledFailure, `activity saw ${cancelled.error}`);
      assert.ok(cancelled.details && cancelled.details.cancelRequested, 'the activity should see cancelRequested');
      const events = await h.expectHistory(
        handle,
        'WES WTS WTSt WTC ATSch TSt TF WTS WTSt WTC ActivityTaskCancelRequested ATSt ActivityTaskCanceled ' +
          'WTS WTSt WTC WEC',
      );
      const canceled = h.only(events, 'ATCd').activityTaskCanceledEventAttributes;
      assert.equal(h.num(canceled.latestCancelRequestedEventId), h.num(h.only(events, 'ATCR').eventId));
      assert.equal(h.num(canceled.scheduledEventId), h.num(h.only(events, 'ATSch').eventId));
    });

    scenario('S25: signal during a 2 s local activity → UnhandledCommand, then completion', { timeout: 60000 }, async (e) => {
      const handle = await e.start('localActivityAfterSignal', { args: [2000], workflowId: uid('s25') });
      await firstTaskDone(handle);
      await handle.signal('go');
      await probe.waitFor(`${handle.workflowId}:la-running`, 20000);
      await handle.signal('go'); // lands while the workflow task runs the local activity
      assert.equal(await handle.result(), 'done');
      const events = await h.expectHistory(
        handle,
        'WES WTS WTSt WTC Sig WTS WTSt WTF Sig WTS WTSt WTC MR WEC',
      );
      assert.equal(
        h.only(events, 'WTF').workflowTaskFailedEventAttributes.cause,
        E.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
      );
      assert.equal(h.only(events, 'MR').markerRecordedEventAttributes.markerName, 'core_local_activity');
    });
  });

  // ====================================================================
  // Quick scenarios, one after the other.
  // ====================================================================
  describe('quick scenarios (sequential)', { concurrency: 1 }, () => {
    scenario("S1: workflow returns 'hi'", async (e) => {
      const handle = await e.start('hello', { workflowId: uid('s1') });
      assert.equal(await handle.result(), 'hi');
      const events = await h.expectHistory(handle, P.S1);
      const wes = events[0].workflowExecutionStartedEventAttributes;
      assert.equal(wes.workflowType.name, 'hello');
      assert.equal(wes.taskQueue.name, e.taskQueue);
      assert.equal(wes.attempt, 1);
      const d = await handle.describe();
      assert.equal(d.raw.workflowExecutionInfo.status, E.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED);
      assert.equal(wes.originalExecutionRunId, d.runId, 'WES.original_execution_run_id must be the run id');
      assert.equal(wes.firstExecutionRunId, d.runId, 'WES.first_execution_run_id must be the run id');
      assert.equal(d.historyLength, 5);
      assert.equal(d.type, 'hello');
      assert.equal(d.taskQueue, e.taskQueue);
      assert.ok(d.startTime instanceof Date && d.closeTime instanceof Date, 'describe() needs start and close times');
    });

    scenario('S2: one activity returning a value', async (e) => {
      const handle = await e.start('oneActivity', { args: ['ping'], workflowId: uid('s2') });
      assert.equal(await handle.result(), 'ping');
      const events = await h.expectHistory(handle, P.S2);
      const sch = h.only(events, 'ATSch');
      assert.equal(sch.activityTaskScheduledEventAttributes.activityType.name, 'echo');
      assert.equal(sch.activityTaskScheduledEventAttributes.taskQueue.name, e.taskQueue);
      const st = h.only(events, 'ATSt').activityTaskStartedEventAttributes;
      assert.equal(st.attempt, 1);
      assert.equal(h.num(st.scheduledEventId), h.num(sch.eventId));
      const done = h.only(events, 'ATC').activityTaskCompletedEventAttributes;
      assert.equal(h.num(done.scheduledEventId), h.num(sch.eventId));
      assert.equal(h.num(done.startedEventId), h.num(h.only(events, 'ATSt').eventId));
    });

    scenario('S4: condition() released by a signal sent after the first workflow task', async (e) => {
      const handle = await e.start('waitSignals', { args: [1], workflowId: uid('s4') });
      await firstTaskDone(handle);
      await handle.signal('go');
      assert.equal((await handle.result()).count, 1);
      const events = await h.expectHistory(handle, P.S4);
      assert.equal(h.only(events, 'Sig').workflowExecutionSignaledEventAttributes.signalName, 'go');
    });

    scenario('S5: the same workflow via signalWithStart', async (e) => {
      const handle = await e.client.workflow.signalWithStart('waitSignals', {
        taskQueue: e.taskQueue,
        workflowId: uid('s5'),
        args: [1],
        signal: 'go',
        signalArgs: [],
      });
      assert.equal((await handle.result()).count, 1);
      await h.expectHistory(handle, P.S5);
    });

    scenario('S6: queries on a blocked workflow add no events; then a signal finishes it', async (e) => {
      const handle = await e.start('waitSignals', { args: [1], workflowId: uid('s6') });
      await firstTaskDone(handle);
      const before = await h.historyOf(handle);
      assert.deepEqual(await handle.query('state', 'first'), { count: 0, wanted: 1, tag: 'first', senders: [] });
      assert.deepEqual(await handle.query('state', 'second'), { count: 0, wanted: 1, tag: 'second', senders: [] });
      const afterQueries = await h.historyOf(handle);
      assert.deepEqual(h.eventNames(afterQueries), h.eventNames(before), 'queries must not add history events');
      await handle.signal('go');
      assert.equal((await handle.result()).count, 1);
      await h.expectHistory(handle, P.S4);
    });

    scenario('S7: activity fails twice, succeeds on attempt 3 (initialInterval 100 ms)', async (e) => {
      const handle = await e.start('retryingActivity', { args: [3, '100ms'], workflowId: uid('s7') });
      assert.equal(await handle.result(), 'succeeded on attempt 3');
      const events = await h.expectHistory(handle, P.S2);
      const st = h.only(events, 'ATSt').activityTaskStartedEventAttributes;
      assert.equal(st.attempt, 3);
      assert.ok(st.lastFailure, 'ActivityTaskStarted.last_failure should be set on attempt 3');
      assert.match(st.lastFailure.message, /attempt 2 fails on purpose/);
      assert.deepEqual(probe.records(`${handle.workflowId}:attempts`), [1, 2, 3]);
    });

    scenario('S8: non-retryable ApplicationFailure from an activity fails the workflow', async (e) => {
      const handle = await e.start('nonRetryableActivity', { workflowId: uid('s8') });
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, ActivityFailure, ApplicationFailure);
      assert.equal(err.cause.retryState, 'NON_RETRYABLE_FAILURE');
      assert.equal(err.cause.cause.type, 'ConformanceNonRetryable');
      assert.equal(err.cause.cause.nonRetryable, true);
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC ATSch ATSt ATF WTS WTSt WTC WEF');
      const atf = h.only(events, 'ATF').activityTaskFailedEventAttributes;
      assert.equal(atf.retryState, E.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
      assert.equal(h.only(events, 'ATSt').activityTaskStartedEventAttributes.attempt, 1);
      assert.equal(await statusCode(handle), E.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED);
    });

    scenario('S9: maximumAttempts 2, activity always throws', async (e) => {
      const handle = await e.start('maxAttemptsActivity', { workflowId: uid('s9') });
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, ActivityFailure, ApplicationFailure);
      assert.equal(err.cause.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
      assert.equal(err.cause.cause.type, 'ConformanceAlwaysFails');
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC ATSch ATSt ATF WTS WTSt WTC WEF');
      assert.equal(h.only(events, 'ATSt').activityTaskStartedEventAttributes.attempt, 2);
      assert.equal(
        h.only(events, 'ATF').activityTaskFailedEventAttributes.retryState,
        E.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED,
      );
      assert.deepEqual(probe.records(`${handle.workflowId}:attempts`), [1, 2]);
    });

    scenario('S13: cancel an activity nobody polls for (WAIT_CANCELLATION_COMPLETED, then TRY_CANCEL)', async (e) => {
      const unpolled = uid('s13-nobody-polls');
      const wait = await e.start('cancelUnstartedActivity', {
        args: [unpolled, 'WAIT_CANCELLATION_COMPLETED'],
        workflowId: uid('s13-wait'),
      });
      assert.equal(await wait.result(), 'activity cancelled');
      await h.expectHistory(
        wait,
        'WES WTS WTSt WTC ATSch TSt TF WTS WTSt WTC ActivityTaskCancelRequested ActivityTaskCanceled WTS WTSt WTC WEC',
      );
      const tryCancel = await e.start('cancelUnstartedActivity', {
        args: [unpolled, 'TRY_CANCEL'],
        workflowId: uid('s13-try'),
      });
      assert.equal(await tryCancel.result(), 'activity cancelled');
      // The table: "…WTC, ActivityTaskCancelRequested, Completed (buffered
      // Canceled is dropped once the run closes)". §2 of the reference also
      // reads as if ActivityTaskCanceled were appended at once for an
      // unstarted activity; both are fine for the SDK, so both are accepted.
      await h.expectHistory(
        tryCancel,
        'WES WTS WTSt WTC ATSch TSt TF WTS WTSt WTC ActivityTaskCancelRequested [ ActivityTaskCanceled ] WEC',
      );
    });

    scenario('S14: client cancel of a workflow sleeping for a day', async (e) => {
      const handle = await e.start('sleeper', { args: ['1d'], workflowId: uid('s14') });
      await h.waitForEvent(handle, 'TSt');
      await handle.cancel();
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, CancelledFailure);
      await h.expectHistory(handle, 'WES WTS WTSt WTC TSt WECR WTS WTSt WTC TC WECd');
      assert.equal(await statusCode(handle), E.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED);
    });

    scenario("S15: client terminate('bye') of a workflow sleeping for a day", async (e) => {
      const handle = await e.start('sleeper', { args: ['1d'], workflowId: uid('s15') });
      await h.waitForEvent(handle, 'TSt');
      await handle.terminate('bye');
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, TerminatedFailure);
      assert.equal(err.message, 'bye');
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC TSt WET');
      assert.equal(h.only(events, 'WET').workflowExecutionTerminatedEventAttributes.reason, 'bye');
      assert.equal(await statusCode(handle), E.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED);
    });

    scenario('S17: asynchronous activity completion by task token and by id', async (e) => {
      // by task token
      const byToken = await e.start('asyncCompleted', { workflowId: uid('s17-token') });
      const a = await probe.waitFor(`${byToken.workflowId}:async`, 20000);
      await e.client.activity.complete(a.taskToken, 'by token');
      assert.equal(await byToken.result(), 'by token');
      await h.expectHistory(byToken, P.S2);
      // by (workflowId, runId, activityId)
      const byId = await e.start('asyncCompleted', { workflowId: uid('s17-id') });
      const b = await probe.waitFor(`${byId.workflowId}:async`, 20000);
      await e.client.activity.complete({ workflowId: b.workflowId, runId: b.runId, activityId: b.activityId }, 'by id');
      assert.equal(await byId.result(), 'by id');
      await h.expectHistory(byId, P.S2);
      // by (workflowId, activityId): empty run id means the current run
      const byIdNoRun = await e.start('asyncCompleted', { workflowId: uid('s17-id-norun') });
      const c = await probe.waitFor(`${byIdNoRun.workflowId}:async`, 20000);
      await e.client.activity.complete({ workflowId: c.workflowId, activityId: c.activityId }, 'by id, current run');
      assert.equal(await byIdNoRun.result(), 'by id, current run');
      await h.expectHistory(byIdNoRun, P.S2);
    });

    scenario('S18: terminate while an activity heartbeats; the heartbeat gets NOT_FOUND', async (e) => {
      const handle = await e.start('activityUntilTerminated', { workflowId: uid('s18') });
      await probe.waitFor(`${handle.workflowId}:started`, 20000);
      await handle.terminate('S18');
      const err = await h.rejectionOf(handle.result(), 'result()');
      assertCauseChain(err, WorkflowFailedError, TerminatedFailure);
      const cancelled = await probe.waitFor(`${handle.workflowId}:cancelled`, 15000);
      assert.ok(cancelled.isCancelledFailure, `activity saw ${cancelled.error}`);
      assert.ok(
        cancelled.details && cancelled.details.notFound,
        `the activity should be cancelled because its heartbeat got NOT_FOUND; details: ${JSON.stringify(cancelled.details)}`,
      );
      await h.expectHistory(handle, 'WES WTS WTSt WTC ATSch [ ATSt ] WET');
    });

    scenario('S19: upsertSearchAttributes and upsertMemo, visible in describe() and list()', async (e) => {
      const keyword = uid('s19-kw');
      const key = defineSearchAttributeKey('CustomKeywordField', SearchAttributeType.KEYWORD);
      const handle = await e.start('searchAttributesAndMemo', { args: [keyword], workflowId: uid('s19') });
      assert.equal(await handle.result(), 'upserted');
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC USA WPM WEC');
      const usa = h.only(events, 'USA').upsertWorkflowSearchAttributesEventAttributes;
      assert.ok(usa.searchAttributes.indexedFields.CustomKeywordField, 'UpsertWorkflowSearchAttributes lacks the key');
      const wpm = h.only(events, 'WPM').workflowPropertiesModifiedEventAttributes;
      assert.ok(wpm.upsertedMemo.fields.conformance, 'WorkflowPropertiesModified lacks the memo field');
      const d = await handle.describe();
      assert.deepEqual(d.memo, { conformance: 'memo-value', n: 42 });
      assert.equal(d.typedSearchAttributes.get(key), keyword);
      const listed = await h.waitUntil(
        async () => {
          const found = [];
          for await (const wf of e.client.workflow.list({ query: `WorkflowId='${handle.workflowId}'` })) found.push(wf);
          return found.length === 1 ? found : null;
        },
        { what: `list(WorkflowId='${handle.workflowId}') to return the workflow` },
      );
      assert.deepEqual(listed[0].memo, { conformance: 'memo-value', n: 42 });
      assert.equal(listed[0].typedSearchAttributes.get(key), keyword);
      const bySa = await h.waitUntil(
        async () => {
          const found = [];
          for await (const wf of e.client.workflow.list({ query: `CustomKeywordField='${keyword}'` })) found.push(wf);
          return found.length === 1 ? found : null;
        },
        { what: `list(CustomKeywordField='${keyword}') to return the workflow` },
      );
      assert.equal(bySa[0].workflowId, handle.workflowId);
    });

    scenario("S20: patched('v1') records a marker", async (e) => {
      const handle = await e.start('patchedWorkflow', { workflowId: uid('s20') });
      assert.equal(await handle.result(), 'patched v1');
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC MR [ USA ] WEC');
      assert.equal(h.only(events, 'MR').markerRecordedEventAttributes.markerName, 'core_patch');
    });

    scenario("S21: five runs, then list({query: \"WorkflowType='listMe'\"}) newest first, and count()", async (e) => {
      const ids = [];
      for (let i = 0; i < 5; i++) {
        const id = uid(`s21-${i}`);
        assert.equal(await e.client.workflow.execute('listMe', { taskQueue: e.taskQueue, workflowId: id }), id);
        ids.push(id);
      }
      const query = "WorkflowType='listMe'";
      const listed = await h.waitUntil(
        async () => {
          const found = [];
          for await (const wf of e.client.workflow.list({ query })) found.push(wf);
          return found.length >= 5 ? found : null;
        },
        { what: `list(${query}) to return 5 workflows` },
      );
      assert.deepEqual(
        listed.map((wf) => wf.workflowId),
        ids.slice().reverse(),
        'list() must return exactly the 5 runs, newest first',
      );
      for (const wf of listed) {
        assert.equal(wf.type, 'listMe');
        assert.equal(wf.status.name, 'COMPLETED');
      }
      const { count } = await e.client.workflow.count(query);
      assert.equal(count, 5);
    });

    scenario('S22: duplicate start while running; USE_EXISTING; raw start retried with the same requestId', async (e) => {
      const id = uid('s22');
      const first = await e.start('waitSignals', { args: [1], workflowId: id });
      const dup = await h.rejectionOf(e.start('waitSignals', { args: [1], workflowId: id }), 'a duplicate start');
      assert.ok(dup instanceof WorkflowExecutionAlreadyStartedError, `got ${dup && dup.stack}`);
      const existing = await e.start('waitSignals', {
        args: [1],
        workflowId: id,
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      assert.equal(existing.firstExecutionRunId, first.firstExecutionRunId, 'USE_EXISTING must return the running run');

      const rawId = uid('s22-raw');
      const request = {
        namespace: h.NAMESPACE,
        workflowId: rawId,
        workflowType: { name: 'waitSignals' },
        taskQueue: { name: e.taskQueue },
        identity: 'conformance-s22',
        requestId: crypto.randomUUID(),
      };
      const r1 = await e.client.workflowService.startWorkflowExecution(request);
      const r2 = await e.client.workflowService.startWorkflowExecution(request);
      assert.ok(r1.runId, 'StartWorkflowExecution returned no run_id');
      assert.equal(r2.runId, r1.runId, 'a retried start with the same request_id must return the same run');

      await first.signal('go');
      assert.equal((await first.result()).count, 1);
      const raw = e.client.workflow.getHandle(rawId);
      await raw.signal('go');
      assert.equal((await raw.result()).count, 1);
      await h.expectHistory(raw, P.S4);
    });

    scenario('S23: start with REJECT_DUPLICATE after completion', async (e) => {
      const id = uid('s23');
      const first = await e.start('hello', { workflowId: id });
      assert.equal(await first.result(), 'hi');
      const err = await h.rejectionOf(
        e.start('hello', { workflowId: id, workflowIdReusePolicy: 'REJECT_DUPLICATE' }),
        'a REJECT_DUPLICATE start of a closed id',
      );
      assert.ok(err instanceof WorkflowExecutionAlreadyStartedError, `got ${err && err.stack}`);
      // The default policy (ALLOW_DUPLICATE) starts a new run.
      const again = await e.start('hello', { workflowId: id });
      assert.notEqual(again.firstExecutionRunId, first.firstExecutionRunId);
      assert.equal(await again.result(), 'hi');
    });

    scenario('S26: continueAsNew(n-1) until 0; execute() follows the chain', async (e) => {
      const id = uid('s26');
      const handle = await e.start('continueAsNewChain', { args: [3], workflowId: id });
      assert.equal(await handle.result(), 'chain done');
      const run1 = handle.firstExecutionRunId;
      let runId = run1;
      let previous = '';
      for (let i = 0; i < 4; i++) {
        const runHandle = e.client.workflow.getHandle(id, runId);
        const last = i === 3;
        const events = await h.expectHistory(runHandle, last ? 'WES WTS WTSt WTC WEC' : 'WES WTS WTSt WTC WECAN');
        const wes = events[0].workflowExecutionStartedEventAttributes;
        assert.equal(wes.firstExecutionRunId, run1, `run ${i + 1}: first_execution_run_id`);
        assert.equal(wes.originalExecutionRunId, runId, `run ${i + 1}: original_execution_run_id`);
        assert.equal(wes.continuedExecutionRunId || '', previous, `run ${i + 1}: continued_execution_run_id`);
        if (i > 0) assert.equal(wes.initiator, E.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW);
        if (!last) {
          const can = h.only(events, 'WECAN').workflowExecutionContinuedAsNewEventAttributes;
          assert.ok(can.newExecutionRunId, `run ${i + 1}: ContinuedAsNew without new_execution_run_id`);
          previous = runId;
          runId = can.newExecutionRunId;
        }
      }
      // The current run is the last one.
      const current = await e.client.workflow.getHandle(id).describe();
      assert.equal(current.runId, runId);
    });

    scenario('S27: executeChild of a child that returns a value', async (e) => {
      const id = uid('s27');
      const handle = await e.start('parentExecutesChild', { args: ['X'], workflowId: id });
      assert.equal(await handle.result(), 'child:X');
      const parent = await h.expectHistory(
        handle,
        'WES WTS WTSt WTC SCWEI CWES WTS ( WTSt WTC CWEC WTS | CWEC ) WTSt WTC WEC',
      );
      const initiated = h.only(parent, 'SCWEI');
      const started = h.only(parent, 'CWES');
      const completed = h.only(parent, 'CWEC');
      assert.equal(h.num(started.childWorkflowExecutionStartedEventAttributes.initiatedEventId), h.num(initiated.eventId));
      assert.equal(h.num(completed.childWorkflowExecutionCompletedEventAttributes.initiatedEventId), h.num(initiated.eventId));
      assert.equal(h.num(completed.childWorkflowExecutionCompletedEventAttributes.startedEventId), h.num(started.eventId));
      const childHandle = e.client.workflow.getHandle(`${id}-child`);
      const child = await h.expectHistory(childHandle, 'WES WTS WTSt WTC WEC');
      const wes = child[0].workflowExecutionStartedEventAttributes;
      const parentRun = (await handle.describe()).runId;
      assert.equal(wes.parentWorkflowNamespace, h.NAMESPACE);
      assert.equal(wes.parentWorkflowExecution.workflowId, id);
      assert.equal(wes.parentWorkflowExecution.runId, parentRun);
      assert.equal(h.num(wes.parentInitiatedEventId), h.num(initiated.eventId));
      assert.equal(
        started.childWorkflowExecutionStartedEventAttributes.workflowExecution.runId,
        (await childHandle.describe()).runId,
      );
      const childDesc = await childHandle.describe();
      assert.equal(childDesc.parentExecution && childDesc.parentExecution.workflowId, id);
    });

    scenario('S28: child workflow id already running', async (e) => {
      const blocker = await e.start('waitSignals', { args: [1], workflowId: uid('s28-blocker') });
      const handle = await e.start('parentChildAlreadyRunning', { args: [blocker.workflowId], workflowId: uid('s28') });
      assert.equal(await handle.result(), 'already started');
      const events = await h.expectHistory(handle, 'WES WTS WTSt WTC SCWEI SCWEF WTS WTSt WTC WEC');
      assert.equal(
        h.only(events, 'SCWEF').startChildWorkflowExecutionFailedEventAttributes.cause,
        E.StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS,
      );
      await blocker.signal('go');
      assert.equal((await blocker.result()).count, 1);
      await h.expectHistory(blocker, P.S4);
    });

    for (const policy of ['TERMINATE', 'REQUEST_CANCEL']) {
      scenario(`S29: parent returns while its child sleeps (parentClosePolicy ${policy})`, async (e) => {
        const id = uid(`s29-${policy.toLowerCase()}`);
        const parent = await e.start('parentLeavesChild', { args: [policy], workflowId: id });
        const child = e.client.workflow.getHandle(`${id}-child`);
        await h.waitUntil(() => h.historyOf(child).then((ev) => h.eventNames(ev).includes('TSt')), {
          what: 'the child to start its 1-day timer',
        });
        await parent.signal('finish');
        assert.equal(await parent.result(), `${id}-child`);
        await h.expectHistory(parent, 'WES WTS WTSt WTC SCWEI CWES WTS ( WTSt WTC Sig WTS | Sig ) WTSt WTC WEC');
        const err = await h.rejectionOf(child.result(), 'the child result()');
        if (policy === 'TERMINATE') {
          assertCauseChain(err, WorkflowFailedError, TerminatedFailure);
          await h.expectHistory(child, 'WES WTS WTSt WTC TSt WET');
        } else {
          assertCauseChain(err, WorkflowFailedError, CancelledFailure);
          await h.expectHistory(child, 'WES WTS WTSt WTC TSt WECR WTS WTSt WTC TC WECd');
        }
      });
    }

    scenario('S30: getExternalWorkflowHandle(b).signal(), and to a missing id', async (e) => {
      const b = await e.start('waitSignals', { args: [1], workflowId: uid('s30-b') });
      await firstTaskDone(b);
      const a = await e.start('signalExternal', { args: [b.workflowId], workflowId: uid('s30-a') });
      assert.equal(await a.result(), 'signaled');
      const aEvents = await h.expectHistory(a, 'WES WTS WTSt WTC SEWEI EWES WTS WTSt WTC WEC');
      const sewei = h.only(aEvents, 'SEWEI');
      assert.equal(sewei.signalExternalWorkflowExecutionInitiatedEventAttributes.workflowExecution.workflowId, b.workflowId);
      assert.equal(
        h.num(h.only(aEvents, 'EWES').externalWorkflowExecutionSignaledEventAttributes.initiatedEventId),
        h.num(sewei.eventId),
      );
      const bResult = await b.result();
      assert.deepEqual(bResult, { count: 1, senders: [a.workflowId] });
      const bEvents = await h.expectHistory(b, 'WES WTS WTSt WTC Sig WTS WTSt WTC WEC');
      const sig = h.only(bEvents, 'Sig').workflowExecutionSignaledEventAttributes;
      assert.equal(sig.signalName, 'go');
      assert.ok(sig.externalWorkflowExecution, 'Signaled.external_workflow_execution must name the sender');
      assert.equal(sig.externalWorkflowExecution.workflowId, a.workflowId);

      const missing = await e.start('signalExternal', { args: [uid('s30-missing')], workflowId: uid('s30-a2') });
      assert.match(await missing.result(), /^signal failed/);
      const mEvents = await h.expectHistory(missing, 'WES WTS WTSt WTC SEWEI SEWEF WTS WTSt WTC WEC');
      assert.equal(
        h.only(mEvents, 'SEWEF').signalExternalWorkflowExecutionFailedEventAttributes.cause,
        E.SignalExternalWorkflowExecutionFailedCause
          .SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
      );
    });

    scenario('S31: getExternalWorkflowHandle(b).cancel()', async (e) => {
      const b = await e.start('waitSignals', { args: [1], workflowId: uid('s31-b') });
      await firstTaskDone(b);
      const a = await e.start('cancelExternal', { args: [b.workflowId], workflowId: uid('s31-a') });
      assert.equal(await a.result(), 'cancel requested');
      const aEvents = await h.expectHistory(
        a,
        'WES WTS WTSt WTC RequestCancelExternalWorkflowExecutionInitiated ExternalWorkflowExecutionCancelRequested ' +
          'WTS WTSt WTC WEC',
      );
      const err = await h.rejectionOf(b.result(), 'the result() of the cancelled workflow');
      assertCauseChain(err, WorkflowFailedError, CancelledFailure);
      const bEvents = await h.expectHistory(b, 'WES WTS WTSt WTC WECR WTS WTSt WTC WECd');
      const wecr = h.only(bEvents, 'WECR').workflowExecutionCancelRequestedEventAttributes;
      assert.ok(wecr.externalWorkflowExecution, 'CancelRequested.external_workflow_execution must name the requester');
      assert.equal(wecr.externalWorkflowExecution.workflowId, a.workflowId);
      assert.equal(h.num(wecr.externalInitiatedEventId), h.num(h.only(aEvents, 'RCEWEI').eventId));
    });

    scenario('S33: workflow retry policy, attempt 1 fails, attempt 2 succeeds', async (e) => {
      const id = uid('s33');
      const handle = await e.start('failFirstAttempt', {
        workflowId: id,
        retry: { initialInterval: '100ms', maximumAttempts: 3 },
      });
      assert.equal(await handle.result(), 'succeeded on attempt 2');
      const run1 = handle.firstExecutionRunId;
      const r1 = await h.expectHistory(e.client.workflow.getHandle(id, run1), 'WES WTS WTSt WTC WEF');
      const failed = h.only(r1, 'WEF').workflowExecutionFailedEventAttributes;
      assert.equal(failed.retryState, E.RetryState.RETRY_STATE_IN_PROGRESS);
      assert.ok(failed.newExecutionRunId, 'WorkflowExecutionFailed must carry new_execution_run_id');
      const r2 = await h.expectHistory(e.client.workflow.getHandle(id, failed.newExecutionRunId), P.S1);
      const wes = r2[0].workflowExecutionStartedEventAttributes;
      assert.equal(wes.attempt, 2);
      assert.equal(wes.initiator, E.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY);
      assert.equal(wes.continuedExecutionRunId, run1);
      assert.equal(wes.firstExecutionRunId, run1);
    });
  });
});
