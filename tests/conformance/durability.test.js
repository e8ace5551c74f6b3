'use strict';
// S35 (shared/reference/temporal-server-semantics.md §9.2): kill -9 the dev
// server after the TimerStarted of a 10 s timer and in the middle of an
// activity's retries, restart it on the same database file and port, and
// expect both workflows to complete with the histories of S3 and S7.
//
// Runs on a server of its own (a different one from conformance.test.js),
// since it kills it.

const { describe } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./harness');
const probe = require('./probe');

const { scenario } = h.suiteEnv({ name: 'durability' });

describe('hourglass-devserver durability (TS SDK 1.24.0)', () => {
  scenario('S35: kill -9 during a 10 s timer and between activity retries, restart on the same DB', { timeout: 150000 }, async (e) => {
    const t0 = Date.now();
    const timer = await e.start('sleeper', { args: ['10s'], workflowId: h.uid('s35-timer') });
    // The activity fails attempts 1 and 2 and succeeds on 3, with 3 s
    // between attempts: a wide window to crash the server mid-retry.
    const retry = await e.start('retryingActivity', { args: [3, '3s'], workflowId: h.uid('s35-retry') });

    await h.waitForEvent(timer, 'TSt');
    await probe.waitFor(`${retry.workflowId}:attempt-1`, 20000);
    // Best effort: let the server record the failure of attempt 1 (visible as
    // pending activity attempt 2 when Describe reports pending activities).
    // A server that does not fill pending_activities only costs the wait.
    await h
      .waitUntil(
        async () => {
          const d = await retry.describe();
          const pending = d.raw.pendingActivities || [];
          return pending.length > 0 && h.num(pending[0].attempt) >= 2;
        },
        { timeout: 2000, what: 'pending activity attempt 2' },
      )
      .catch(() => {});

    const port = e.server.port;
    await e.server.kill9();
    const crashedAt = Date.now();
    assert.ok(crashedAt - t0 < 9000, `the crash came ${crashedAt - t0} ms after the start, too late for the 10 s timer`);

    // Same database file, same port (the worker's connection keeps its address).
    const address = await e.server.start({ port });
    assert.equal(address, `127.0.0.1:${port}`);
    // A fresh client connection; the worker reconnects by itself.
    await e.connection.close().catch(() => {});
    await h.connect(e, address).catch(async (err) => {
      throw new Error(`cannot reconnect to the restarted server: ${err.message}`);
    });
    const timerHandle = e.client.workflow.getHandle(timer.workflowId);
    const retryHandle = e.client.workflow.getHandle(retry.workflowId);

    assert.equal(await timerHandle.result(), 'slept 10s');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 9500, `the 10 s timer completed after ${elapsed} ms`);
    await h.expectHistory(timerHandle, 'WES WTS WTSt WTC TSt TF WTS WTSt WTC WEC');

    assert.equal(await retryHandle.result(), 'succeeded on attempt 3');
    const events = await h.expectHistory(retryHandle, 'WES WTS WTSt WTC ATSch ATSt ATC WTS WTSt WTC WEC');
    const st = h.only(events, 'ATSt').activityTaskStartedEventAttributes;
    assert.equal(st.attempt, 3);
    assert.ok(st.lastFailure, 'ActivityTaskStarted.last_failure should be set on attempt 3');

    // The restarted server still accepts new work.
    const hello = await e.start('hello', { workflowId: h.uid('s35-after') });
    assert.equal(await hello.result(), 'hi');
  });
});
