'use strict';
// Workflow of the hourglass-devserver benchmark (bench/devserver/bench.js).
// Bundled by bench.js with bundleWorkflowCode; @temporalio/workflow resolves
// from tests/conformance/node_modules through a webpack resolve hook.

const wf = require('@temporalio/workflow');

const acts = wf.proxyActivities({ startToCloseTimeout: '30s' });

// "single noop activity": one activity that returns at once, then return.
exports.singleNoopActivity = async function singleNoopActivity() {
  await acts.noop();
  return 'done';
};
