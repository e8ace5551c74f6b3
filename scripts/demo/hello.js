// make demo, step 2: the official Temporal TypeScript SDK (client + worker)
// runs a Hello workflow against hourglass-devserver.
//   node scripts/demo/hello.js 127.0.0.1:PORT
const path = require('path');
const { createRequire } = require('module');

const sdkRoot = path.resolve(__dirname, '../../tests/conformance');
const sdk = createRequire(path.join(sdkRoot, 'package.json'));
const { Connection, Client } = sdk('@temporalio/client');
const { Worker, NativeConnection, Runtime, DefaultLogger, bundleWorkflowCode } = sdk('@temporalio/worker');
const { temporal } = sdk('@temporalio/proto');

async function main() {
  const address = process.argv[2];
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows.js'),
    webpackConfigHook: (config) => {
      config.resolve = config.resolve || {};
      config.resolve.modules = [path.join(sdkRoot, 'node_modules'), 'node_modules'];
      return config;
    },
    logger: new DefaultLogger('WARN'),
  });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue: 'demo',
    workflowBundle,
    activities: { ComposeGreeting: async (name) => `Hello, ${name}!` },
  });
  const client = new Client({ connection: await Connection.connect({ address }) });
  await worker.runUntil(async () => {
    const started = Date.now();
    const handle = await client.workflow.start('Hello', {
      taskQueue: 'demo',
      workflowId: `demo-hello-${Date.now()}`,
      args: ['World'],
    });
    const result = await handle.result();
    console.log(`   workflow ${handle.workflowId} returned ${JSON.stringify(result)} in ${Date.now() - started} ms`);
    const history = await handle.fetchHistory();
    const names = history.events.map((e) =>
      temporal.api.enums.v1.EventType[e.eventType].replace('EVENT_TYPE_', ''));
    console.log(`   history: ${names.join(', ')}`);
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('demo failed:', err);
    process.exit(1);
  },
);
