#!/usr/bin/env node
// A native-`solc` command line over the npm `solc` (soljson) compiler.
//
// py-solc-x (and so brownie) drives a native solc binary: it reads `solc --version` and pipes a
// standard-JSON input into `solc --standard-json`. No native binary can be downloaded here, so this
// shim speaks that interface and compiles with the pinned npm compiler. Imports the input does not
// carry are read from disk, resolved against the base path, each --include-path, and node_modules
// (so `@openzeppelin/contracts/...` works with or without a remapping).
'use strict';
const fs = require('fs');
const path = require('path');

const projectRoot = path.resolve(__dirname, '..', '..');
const solc = require(path.join(projectRoot, 'node_modules', 'solc'));

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: process.cwd(), includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const takeValue = () => {
      if (arg.includes('=')) return arg.slice(arg.indexOf('=') + 1);
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--version' || arg === '-v') opts.version = true;
    else if (arg === '--standard-json') opts.standardJson = true;
    else if (arg.startsWith('--base-path')) opts.basePath = takeValue();
    else if (arg.startsWith('--include-path')) opts.includePaths.push(takeValue());
    else if (arg.startsWith('--allow-paths')) opts.allowPaths.push(...takeValue().split(','));
    else throw new Error(`unsupported option ${arg}: this shim implements --version and --standard-json`);
  }
  return opts;
}

function nativeVersion() {
  // Native builds print "<semver>.Linux.g++"; py-solc-x only reads the numeric prefix.
  const full = solc.version().replace('.Emscripten.clang', '.Linux.g++');
  return `solc, the solidity compiler commandline interface\nVersion: ${full}\n`;
}

function importResolver(opts) {
  const roots = [opts.basePath, ...opts.includePaths, ...opts.allowPaths, projectRoot,
    path.join(projectRoot, 'node_modules')];
  return (importPath) => {
    for (const root of roots) {
      const candidate = path.resolve(root, importPath);
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
        return { contents: fs.readFileSync(candidate, 'utf8') };
      }
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
  };
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`solc-shim: ${err.message}\n`);
    return 2;
  }
  if (opts.version) {
    process.stdout.write(nativeVersion());
    return 0;
  }
  if (!opts.standardJson) {
    process.stderr.write('solc-shim: only --standard-json compilation is supported\n');
    return 2;
  }
  const input = fs.readFileSync(0, 'utf8');
  process.stdout.write(solc.compile(input, { import: importResolver(opts) }));
  return 0;
}

process.exitCode = main();
