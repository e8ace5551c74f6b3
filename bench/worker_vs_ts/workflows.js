'use strict';
// The TS side of bench/worker_vs_ts: KitchenSink, mirroring
// workerproc/samples/kitchen_sink.cc for the actions the benchmark uses, so
// one input gives the same commands on both workers:
//   {"timer": MS}            one StartTimer
//   {"activity": TYPE, ...}  one ScheduleActivityTask (start_to_close_ms, default 10000)
//   {"signal": NAME}         waits until a signal NAME arrived, consumes it
//                            (handlers for input.signals are set at start and count)
//   {"return": VALUE}        completes with VALUE
// Anything else fails the workflow (non-retryable), as the C++ sample does.
// Bundled by bench.js; @temporalio/workflow resolves from
// tests/conformance/node_modules through a webpack resolve hook.

const wf = require('@temporalio/workflow');

exports.KitchenSink = async function KitchenSink(input) {
  input = input || {};
  const signals = new Map();
  for (const name of input.signals || []) {
    signals.set(name, 0);
    wf.setHandler(wf.defineSignal(name), () => {
      signals.set(name, signals.get(name) + 1);
    });
  }
  wf.setHandler(wf.defineQuery('signals_pending'), () => {
    let total = 0;
    for (const n of signals.values()) total += n;
    return total;
  });
  for (const a of input.actions || []) {
    if ('timer' in a) {
      await wf.sleep(a.timer);
    } else if ('activity' in a) {
      const acts = wf.proxyActivities({ startToCloseTimeout: a.start_to_close_ms ?? 10000 });
      await acts[a.activity](...(a.args || []));
    } else if ('signal' in a) {
      await wf.condition(() => (signals.get(a.signal) || 0) > 0);
      signals.set(a.signal, signals.get(a.signal) - 1);
    } else if ('return' in a) {
      return a.return;
    } else {
      throw wf.ApplicationFailure.create({
        message: `unknown kitchen-sink action: ${JSON.stringify(a)}`,
        type: 'InvalidAction',
        nonRetryable: true,
      });
    }
  }
  return null;
};
