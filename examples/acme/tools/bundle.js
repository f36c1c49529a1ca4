#!/usr/bin/env node
// Bundles src/*.js of the package in the current directory into dist/index.js.
// Fails when a workspace dependency has not been built yet, so a wrong order shows.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
const deps = Object.keys(pkg.dependencies || {}).filter((d) => d.startsWith('@acme/'));
const parts = [];
for (const dep of deps.sort()) {
  const dir = findPackage(dep);
  const built = path.join(dir, 'dist', 'index.js');
  if (!fs.existsSync(built)) {
    console.error(`${pkg.name}: dependency ${dep} is not built (${built} missing)`);
    process.exit(1);
  }
  parts.push(`// ${dep} ${digest(fs.readFileSync(built))}`);
}
const files = fs.readdirSync('src').filter((f) => f.endsWith('.js')).sort();
for (const f of files) parts.push(`// --- src/${f}\n${fs.readFileSync(path.join('src', f), 'utf8')}`);
fs.rmSync('dist', { recursive: true, force: true });
fs.mkdirSync('dist');
const out = parts.join('\n') + '\n';
fs.writeFileSync(path.join('dist', 'index.js'), out);
console.log(`${pkg.name}: bundled ${files.length} file(s), ${out.length} bytes, ${digest(out)}`);

function findPackage(name) {
  for (const group of ['packages', 'apps']) {
    const dir = path.join(__dirname, '..', group, name.replace('@acme/', ''));
    if (fs.existsSync(dir)) return dir;
  }
  throw new Error(`no package ${name}`);
}
function digest(data) {
  return crypto.createHash('sha256').update(data).digest('hex').slice(0, 12);
}
