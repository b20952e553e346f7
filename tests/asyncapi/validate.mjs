// Validates an AsyncAPI document with the official parser.
// Usage: node validate.mjs FILE
// Prints one JSON line {valid, errors, warnings, channels, operations, messages} and exits
// 0 when the parser found no error-severity diagnostic, 1 otherwise, 2 on bad usage.
import { readFileSync } from 'node:fs';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.mjs FILE');
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'));
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
const warnings = diagnostics.filter((d) => d.severity !== DiagnosticSeverity.Error);
const fmt = (d) => `${d.code}: ${d.message} at ${JSON.stringify(d.path)}`;
const out = {
  valid: document !== undefined && errors.length === 0,
  errors: errors.map(fmt),
  warnings: warnings.map(fmt),
  channels: document ? document.channels().length : 0,
  operations: document ? document.operations().length : 0,
  messages: document ? document.messages().length : 0,
  sends: document ? document.operations().filterBySend().length : 0,
  receives: document ? document.operations().filterByReceive().length : 0,
};
console.log(JSON.stringify(out));
process.exit(out.valid ? 0 : 1);
