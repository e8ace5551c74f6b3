// The demo's workflow, run by the official TypeScript worker until Hourglass's
// own worker process lands.
const { proxyActivities } = require('@temporalio/workflow');

const { ComposeGreeting } = proxyActivities({ startToCloseTimeout: '10s' });

async function Hello(name) {
  return await ComposeGreeting(name);
}

module.exports = { Hello };
