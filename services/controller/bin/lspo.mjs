#!/usr/bin/env node
// `npx lspo ...`: delegates to the repository's launcher (runs from TypeScript source).
import "../../../scripts/lspo.mjs";
