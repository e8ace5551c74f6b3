'use strict';
// Self-test of the event-sequence matcher of harness.js (needs no server).

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const names = (s) => s.split(/\s+/).filter(Boolean);
const ok = (seq, pattern) => h.matchNames(names(seq), pattern).ok;

describe('event-sequence matcher', () => {
  test('matcher: exact sequences, CamelCase names and table aliases', () => {
    assert.ok(ok('WES WTS WTSt WTC WEC', 'WES WTS WTSt WTC WEC'));
    assert.ok(ok('WES WTS WTSt WTC WEC', 'WorkflowExecutionStarted, WTS, WTSt, WTC, Completed'));
    assert.ok(!ok('WES WTS WTSt WTC', 'WES WTS WTSt WTC WEC'));
    assert.ok(!ok('WES WTS WTSt WTC WEC WEC', 'WES WTS WTSt WTC WEC'));
  });

  test('matcher: alternatives, optional parts and repetition', () => {
    const s4 = 'WES WTS ( WTSt WTC Sig WTS | Sig ) WTSt WTC WEC';
    assert.ok(ok('WES WTS WTSt WTC Sig WTS WTSt WTC WEC', s4));
    assert.ok(ok('WES WTS Sig WTSt WTC WEC', s4));
    assert.ok(!ok('WES WTS WTSt WTC WEC', s4));
    const s20 = 'WES WTS WTSt WTC MR [ USA ] WEC';
    assert.ok(ok('WES WTS WTSt WTC MR WEC', s20));
    assert.ok(ok('WES WTS WTSt WTC MR USA WEC', s20));
    const s16 = 'WES WTS WTSt WTF ( WTS WTSt WTTO )* [ WTS [ WTSt ] ] WET';
    assert.ok(ok('WES WTS WTSt WTF WET', s16));
    assert.ok(ok('WES WTS WTSt WTF WTS WTSt WET', s16));
    assert.ok(ok('WES WTS WTSt WTF WTS WTSt WTTO WTS WTSt WTTO WTS WET', s16));
    assert.ok(!ok('WES WTS WTSt WTF WTSt WET', s16));
    assert.ok(ok('WES Sig Sig WTS WTSt WTC', 'WES ... WTC'));
  });

  test('matcher: unknown names in a pattern are rejected', () => {
    assert.throws(() => h.parsePattern('WES WTX'), /unknown event name "WTX"/);
    assert.throws(() => h.parsePattern('WES ( WTS'), /missing "\)"/);
  });

  test('matcher: the mismatch message points at the first divergence', () => {
    const msg = h.describeMismatch(names('WES WTS WTSt WTC TSt WEC'), 'WES WTS WTSt WTC TSt TF WTS WTSt WTC WEC', 'x');
    assert.match(msg, /the first 5 event\(s\) match; then event #6 is WEC, but the pattern expects one of: TF/);
    const short = h.describeMismatch(names('WES WTS'), 'WES WTS WTSt', 'y');
    assert.match(short, /then the history ends, but the pattern expects one of: WTSt/);
  });

  test('matcher: names history events by their enum numbers', () => {
    const E = h.enums.EventType;
    const events = [
      { eventType: E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, eventId: 1 },
      { eventType: E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, eventId: 2 },
      { eventType: E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED, eventId: 3 },
      { eventType: E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, eventId: 4 },
    ];
    assert.deepEqual(h.eventNames(events), ['WES', 'WTS', 'ATCR', 'WorkflowExecutionUpdateAccepted']);
    h.assertEventSequence(events, 'WES WTS ActivityTaskCancelRequested WorkflowExecutionUpdateAccepted');
    h.assertDenseIds(events);
    assert.throws(() => h.assertEventSequence(events, 'WES WTS'), /event sequence mismatch/);
  });
});
