#!/usr/bin/env node
'use strict';
// Completes package-lock.json after `npm install --package-lock-only`.
//
// The npm registry this project reaches serves only the Linux builds of
// platform-specific optional packages (e.g. @swc/core-darwin-arm64 is a 404).
// npm then leaves those optional dependencies out of the lockfile, and
// `npm ci` refuses the lockfile as "out of sync" ("Missing: … from lock file").
// This adds an entry, with its os/cpu/libc constraints, for every optional
// dependency the lockfile names but lacks; npm skips such entries on a
// non-matching platform without fetching them, so no integrity is needed.
//
//   npm install --package-lock-only && node complete-lockfile.js && npm ci

const fs = require('node:fs');
const path = require('node:path');

// os/cpu/libc of the platform packages, from their names.
function platformOf(name) {
  const m = /-(darwin|linux|win32|freebsd|android)-(x64|arm64|arm|ia32|ppc64|s390x|riscv64)(?:-(gnu|musl|gnueabihf|msvc|eabi))?$/.exec(
    name,
  );
  if (!m) return null;
  const entry = { os: [m[1]], cpu: [m[2]] };
  if (m[1] === 'linux' && m[3] && m[3] !== 'msvc') entry.libc = [m[3] === 'musl' ? 'musl' : 'glibc'];
  return entry;
}

const file = path.join(__dirname, 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const added = [];
for (const [key, pkg] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies || {})) {
    const depKey = `${key ? `${key}/` : ''}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (lock.packages[depKey] || lock.packages[hoisted]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      console.error(`complete-lockfile: ${dep} is missing from the lockfile and is not a platform package`);
      process.exitCode = 1;
      continue;
    }
    lock.packages[hoisted] = { version, ...platform, optional: true };
    added.push(`${dep}@${version}`);
  }
}
// Keep "packages" sorted as npm writes it.
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added.length ? `complete-lockfile: added ${added.join(', ')}` : 'complete-lockfile: nothing to add');
