#!/usr/bin/env node
// lucid-verify PACKAGE [--genesis HASH] [--key HEX | --passphrase-file F | --x25519-secret-file F] [--json]: the standalone package verifier. Bundled with
// its dependencies into one file, dist/lucid-verify.mjs (npm run verifier:build), runnable by Node ≥ 20
// with nothing else installed. See docs/package.md.
import { verifyPackageCommand } from "./verify-package.ts";

process.exitCode = await verifyPackageCommand(process.argv.slice(2));
