'use strict';
// Malformed and invalid requests through the raw WorkflowService stub: each
// must get a typed, non-retryable gRPC status (never a hang, a crash, or a
// retryable code such as UNAVAILABLE/INTERNAL/UNKNOWN that would make SDKs
// spin), and the server must keep serving afterwards (GetSystemInfo, health,
// an S1 workflow).
//
// The raw connection has no retry interceptor and every call has a 5 s
// deadline, so a retryable code or a hang fails the test instead of looping.

const { after, describe } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { Client, Connection } = require('@temporalio/client');
const { NamespaceNotFoundError } = require('@temporalio/common');
const { google, temporal } = require('@temporalio/proto');

const h = require('./harness');

const { scenario } = h.suiteEnv({ name: 'malformed' });

const CODE = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};
const CODE_NAME = Object.fromEntries(Object.entries(CODE).map(([k, v]) => [v, k]));
const { INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, RESOURCE_EXHAUSTED } = CODE;

let rawConnection = null;
after(async () => {
  if (rawConnection) await rawConnection.close().catch(() => {});
});

async function raw(e) {
  if (!rawConnection) {
    rawConnection = await Connection.connect({ address: e.address, interceptors: [] });
  }
  return rawConnection;
}

/**
 * Runs `call(workflowService)` with a 5 s deadline and no retries; asserts it
 * fails with one of `allowed` (gRPC code numbers). Returns the error.
 */
async function expectStatus(e, what, allowed, call) {
  const conn = await raw(e);
  let err = null;
  let response;
  try {
    response = await conn.withDeadline(Date.now() + 5000, () => call(conn.workflowService));
  } catch (caught) {
    err = caught;
  }
  const names = allowed.map((c) => CODE_NAME[c]).join(' or ');
  assert.ok(err, `${what}: expected ${names}, but the server answered OK: ${JSON.stringify(response)}`.slice(0, 2000));
  assert.ok(
    typeof err.code === 'number',
    `${what}: expected a gRPC status ${names}, got a non-gRPC error: ${err && err.stack}`,
  );
  assert.ok(
    allowed.includes(err.code),
    `${what}: expected ${names}, got ${CODE_NAME[err.code] || err.code}: ${err.details || err.message}`,
  );
  return err;
}

function statusDetails(err) {
  const bin = err.metadata && err.metadata.get('grpc-status-details-bin')[0];
  if (!bin || typeof bin === 'string') return [];
  return google.rpc.Status.decode(bin).details || [];
}

function startRequest(overrides = {}) {
  return {
    namespace: h.NAMESPACE,
    workflowId: h.uid('malformed'),
    workflowType: { name: 'hello' },
    taskQueue: { name: h.uid('malformed-tq') },
    identity: 'conformance-malformed',
    requestId: crypto.randomUUID(),
    ...overrides,
  };
}

const TOKENS = {
  'an empty token': Buffer.alloc(0),
  'an ASCII garbage token': Buffer.from('this is not a task token'),
  '64 random bytes': crypto.randomBytes(64),
};

describe('hourglass-devserver malformed requests (TS SDK 1.24.0)', { concurrency: 1 }, () => {
  scenario('M1: StartWorkflowExecution with an empty workflow_id → INVALID_ARGUMENT', async (e) => {
    await expectStatus(e, 'empty workflow_id', [INVALID_ARGUMENT], (svc) =>
      svc.startWorkflowExecution(startRequest({ workflowId: '' })),
    );
  });

  scenario('M2: empty namespace → INVALID_ARGUMENT (or NOT_FOUND)', async (e) => {
    await expectStatus(e, 'StartWorkflowExecution with an empty namespace', [INVALID_ARGUMENT, NOT_FOUND], (svc) =>
      svc.startWorkflowExecution(startRequest({ namespace: '' })),
    );
    await expectStatus(e, 'DescribeNamespace with an empty namespace', [INVALID_ARGUMENT, NOT_FOUND], (svc) =>
      svc.describeNamespace({ namespace: '' }),
    );
  });

  scenario('M3: empty workflow type and empty task queue → INVALID_ARGUMENT', async (e) => {
    await expectStatus(e, 'empty workflow_type.name', [INVALID_ARGUMENT], (svc) =>
      svc.startWorkflowExecution(startRequest({ workflowType: { name: '' } })),
    );
    await expectStatus(e, 'empty task_queue.name', [INVALID_ARGUMENT], (svc) =>
      svc.startWorkflowExecution(startRequest({ taskQueue: { name: '' } })),
    );
  });

  scenario('M4: negative timeouts → INVALID_ARGUMENT', async (e) => {
    for (const field of ['workflowRunTimeout', 'workflowExecutionTimeout', 'workflowTaskTimeout']) {
      await expectStatus(e, `negative ${field}`, [INVALID_ARGUMENT], (svc) =>
        svc.startWorkflowExecution(startRequest({ [field]: { seconds: -5 } })),
      );
    }
  });

  scenario('M5: unknown enum values (reuse policy 99, conflict policy 99) → INVALID_ARGUMENT', async (e) => {
    await expectStatus(e, 'workflow_id_reuse_policy 99', [INVALID_ARGUMENT], (svc) =>
      svc.startWorkflowExecution(startRequest({ workflowIdReusePolicy: 99 })),
    );
    await expectStatus(e, 'workflow_id_conflict_policy 99', [INVALID_ARGUMENT], (svc) =>
      svc.startWorkflowExecution(startRequest({ workflowIdConflictPolicy: 99 })),
    );
  });

  scenario('M6: a 5 MB input payload → RESOURCE_EXHAUSTED or INVALID_ARGUMENT', async (e) => {
    const big = { metadata: { encoding: Buffer.from('binary/plain') }, data: crypto.randomBytes(5 * 1024 * 1024) };
    await expectStatus(e, 'a 5 MB StartWorkflowExecution', [RESOURCE_EXHAUSTED, INVALID_ARGUMENT], (svc) =>
      svc.startWorkflowExecution(startRequest({ input: { payloads: [big] } })),
    );
  });

  scenario('M7: unknown or garbage task tokens → NOT_FOUND or INVALID_ARGUMENT', async (e) => {
    for (const [label, taskToken] of Object.entries(TOKENS)) {
      const base = { namespace: h.NAMESPACE, taskToken, identity: 'conformance-malformed' };
      await expectStatus(e, `RespondActivityTaskCompleted with ${label}`, [NOT_FOUND, INVALID_ARGUMENT], (svc) =>
        svc.respondActivityTaskCompleted(base),
      );
      await expectStatus(e, `RespondActivityTaskFailed with ${label}`, [NOT_FOUND, INVALID_ARGUMENT], (svc) =>
        svc.respondActivityTaskFailed({ ...base, failure: { message: 'x' } }),
      );
      await expectStatus(e, `RecordActivityTaskHeartbeat with ${label}`, [NOT_FOUND, INVALID_ARGUMENT], (svc) =>
        svc.recordActivityTaskHeartbeat(base),
      );
      await expectStatus(e, `RespondWorkflowTaskCompleted with ${label}`, [NOT_FOUND, INVALID_ARGUMENT], (svc) =>
        svc.respondWorkflowTaskCompleted({ ...base, commands: [] }),
      );
      await expectStatus(e, `RespondWorkflowTaskFailed with ${label}`, [NOT_FOUND, INVALID_ARGUMENT], (svc) =>
        svc.respondWorkflowTaskFailed(base),
      );
    }
  });

  scenario('M8: unknown namespace → NOT_FOUND with NamespaceNotFoundFailure', async (e) => {
    const ns = h.uid('no-such-namespace');
    const err = await expectStatus(e, 'DescribeNamespace of an unknown namespace', [NOT_FOUND], (svc) =>
      svc.describeNamespace({ namespace: ns }),
    );
    const types = statusDetails(err).map((d) => d.type_url);
    assert.ok(
      types.includes('type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure'),
      `NOT_FOUND for a namespace should carry a NamespaceNotFoundFailure detail; details: ${JSON.stringify(types)}`,
    );
    await expectStatus(e, 'StartWorkflowExecution in an unknown namespace', [NOT_FOUND], (svc) =>
      svc.startWorkflowExecution(startRequest({ namespace: ns })),
    );
    await expectStatus(e, 'PollWorkflowTaskQueue in an unknown namespace', [NOT_FOUND], (svc) =>
      svc.pollWorkflowTaskQueue({ namespace: ns, taskQueue: { name: 'q', kind: 1 }, identity: 'conformance' }),
    );
    // The TS client decodes the detail into NamespaceNotFoundError.
    const client = new Client({ connection: await raw(e), namespace: ns });
    const clientErr = await h.rejectionOf(
      client.workflow.start('hello', { taskQueue: 'q', workflowId: h.uid('m8') }),
      'a start in an unknown namespace',
    );
    assert.ok(clientErr instanceof NamespaceNotFoundError, `got ${clientErr && clientErr.stack}`);
  });

  scenario('M9: RegisterNamespace of an existing namespace → ALREADY_EXISTS', async (e) => {
    await expectStatus(e, 'RegisterNamespace("default")', [ALREADY_EXISTS], (svc) =>
      svc.registerNamespace({ namespace: h.NAMESPACE, workflowExecutionRetentionPeriod: { seconds: 86400 } }),
    );
  });

  scenario('M10: unknown workflow ids → NOT_FOUND', async (e) => {
    const execution = { workflowId: h.uid('no-such-workflow') };
    await expectStatus(e, 'SignalWorkflowExecution of an unknown workflow', [NOT_FOUND], (svc) =>
      svc.signalWorkflowExecution({
        namespace: h.NAMESPACE,
        workflowExecution: execution,
        signalName: 'go',
        identity: 'conformance',
        requestId: crypto.randomUUID(),
      }),
    );
    await expectStatus(e, 'DescribeWorkflowExecution of an unknown workflow', [NOT_FOUND], (svc) =>
      svc.describeWorkflowExecution({ namespace: h.NAMESPACE, execution }),
    );
    await expectStatus(e, 'GetWorkflowExecutionHistory of an unknown workflow', [NOT_FOUND], (svc) =>
      svc.getWorkflowExecutionHistory({ namespace: h.NAMESPACE, execution }),
    );
    await expectStatus(e, 'TerminateWorkflowExecution of an unknown workflow', [NOT_FOUND], (svc) =>
      svc.terminateWorkflowExecution({ namespace: h.NAMESPACE, workflowExecution: execution, reason: 'x' }),
    );
  });

  scenario('M11: duplicate start → ALREADY_EXISTS with WorkflowExecutionAlreadyStartedFailure', async (e) => {
    const request = startRequest({ taskQueue: { name: h.uid('m11-unpolled') } });
    const conn = await raw(e);
    const first = await conn.withDeadline(Date.now() + 5000, () => conn.workflowService.startWorkflowExecution(request));
    const err = await expectStatus(e, 'a second start of a running workflow id', [ALREADY_EXISTS], (svc) =>
      svc.startWorkflowExecution({ ...request, requestId: crypto.randomUUID() }),
    );
    const detail = statusDetails(err).find(
      (d) => d.type_url === 'type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure',
    );
    assert.ok(detail, 'ALREADY_EXISTS should carry a WorkflowExecutionAlreadyStartedFailure detail');
    const decoded = temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure.decode(detail.value);
    assert.equal(decoded.runId, first.runId);
    assert.equal(decoded.startRequestId, request.requestId);
    await conn.withDeadline(Date.now() + 5000, () =>
      conn.workflowService.terminateWorkflowExecution({
        namespace: h.NAMESPACE,
        workflowExecution: { workflowId: request.workflowId },
        reason: 'M11 done',
      }),
    );
  });

  scenario('M12: the server still serves: GetSystemInfo, health, an S1 workflow, bad page token', async (e) => {
    const conn = await raw(e);
    const info = await conn.withDeadline(Date.now() + 5000, () => conn.workflowService.getSystemInfo({}));
    assert.ok(info.capabilities, 'GetSystemInfo returned no capabilities');
    const health = await conn.withDeadline(Date.now() + 5000, () => conn.healthService.check({ service: '' }));
    assert.equal(health.status, 1, 'grpc.health.v1.Health/Check should answer SERVING');

    const handle = await e.start('hello', { workflowId: h.uid('m12-s1') });
    assert.equal(await handle.result(), 'hi');
    await h.expectHistory(handle, 'WES WTS WTSt WTC WEC');

    await expectStatus(e, 'GetWorkflowExecutionHistory with a garbage next_page_token', [INVALID_ARGUMENT], (svc) =>
      svc.getWorkflowExecutionHistory({
        namespace: h.NAMESPACE,
        execution: { workflowId: handle.workflowId },
        nextPageToken: Buffer.from('garbage page token'),
      }),
    );
    // …and answers again after that.
    await conn.withDeadline(Date.now() + 5000, () => conn.workflowService.getSystemInfo({}));
  });
});
