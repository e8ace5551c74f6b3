'use strict';
// What the Node benchmarks (bench/devserver, bench/worker_vs_ts) read from
// /proc, and their small timing helpers: one copy for both.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** /proc/<pid>/stat from field 3 (state) on; null when the process is gone. */
function statFields(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime+stime (+cutime+cstime: children it reaped) in clock ticks; 0 when gone. */
function cpuTicks(pid, withChildren = false) {
  const f = statFields(pid);
  if (!f) return 0;
  // f[0] is field 3; utime is field 14, stime 15, cutime 16, cstime 17.
  let t = Number(f[11]) + Number(f[12]);
  if (withChildren) t += Number(f[13]) + Number(f[14]);
  return t;
}

/** Machine-wide busy and total ticks from /proc/stat (all CPUs). */
function machineTicks() {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest* are inside user/nice)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - (v[4] || 0), total };
}

function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

module.exports = { CLK_TCK, statFields, cpuTicks, machineTicks, percentile, withTimeout };
