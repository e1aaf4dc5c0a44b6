// Parses Mermaid diagrams with every Mermaid version pinned in package.json
// (the `mermaid-<major>` aliases: GitLab's and GitHub's), the check the
// tests run on the PR/MR comment's charts (tests/it/comment_charts.rs).
//
//   node tools/node/mermaid-parse.mjs < comment.md        # its ```mermaid blocks
//   node tools/node/mermaid-parse.mjs --json < blocks.json # a JSON array of diagrams
//
// Prints one line per diagram and version ("ok mermaid@11.17.2 #1: xychart"
// or "error mermaid@10.7.0 #2: <parser message>"). Exit 0: every diagram
// parsed with every version; 1: a parse error (or, for Markdown, no block
// at all); 2: the tools themselves failed (not installed, bad input).
//
// Mermaid needs a DOM for DOMPurify even to parse; jsdom gives it one, no
// browser involved. Parsing checks the syntax and the diagram type; it
// draws nothing.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function fail(message) {
  process.stderr.write(`mermaid-parse: ${message}\n`);
  process.exit(2);
}

/// The ```mermaid fenced blocks of a Markdown text.
function blocks(markdown) {
  const out = [];
  let current = null;
  for (const line of markdown.split("\n")) {
    if (current === null) {
      if (/^```mermaid\s*$/.test(line)) current = [];
    } else if (/^```\s*$/.test(line)) {
      out.push(current.join("\n") + "\n");
      current = null;
    } else {
      current.push(line);
    }
  }
  if (current !== null) fail("a ```mermaid block is not closed");
  return out;
}

const json = process.argv.includes("--json");
let input;
try {
  input = readFileSync(0, "utf8");
} catch (e) {
  fail(`cannot read stdin: ${e.message}`);
}
let diagrams;
if (json) {
  try {
    diagrams = JSON.parse(input);
  } catch (e) {
    fail(`stdin is not JSON: ${e.message}`);
  }
  if (!Array.isArray(diagrams) || diagrams.some((d) => typeof d !== "string")) {
    fail("stdin must be a JSON array of strings");
  }
} else {
  diagrams = blocks(input);
  if (diagrams.length === 0) {
    process.stdout.write("error: no ```mermaid block in the input\n");
    process.exit(1);
  }
}

const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const aliases = Object.keys(pkg.dependencies).filter((n) => /^mermaid-\d+$/.test(n));
if (aliases.length === 0) fail("package.json pins no mermaid-<major> alias");

let JSDOM;
try {
  ({ JSDOM } = await import("jsdom"));
} catch (e) {
  fail(`jsdom is not installed (scripts/node-tools): ${e.message}`);
}
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;

let failed = false;
for (const alias of aliases) {
  let mermaid, version;
  try {
    ({ default: mermaid } = await import(alias));
    version = JSON.parse(
      readFileSync(join(here, "node_modules", alias, "package.json"), "utf8"),
    ).version;
  } catch (e) {
    fail(`${alias} is not installed (scripts/node-tools): ${e.message}`);
  }
  mermaid.initialize({ startOnLoad: false });
  for (const [i, text] of diagrams.entries()) {
    try {
      // Both throw on an error; 11 answers the diagram's type, 10 true (its
      // types are known once a parse has loaded them).
      const r = await mermaid.parse(text);
      const type = typeof r === "object" && r ? r.diagramType : mermaid.detectType(text);
      process.stdout.write(`ok mermaid@${version} #${i + 1}: ${type}\n`);
    } catch (e) {
      failed = true;
      const message = String((e && e.message) || e).replace(/\s+/g, " ").trim();
      process.stdout.write(`error mermaid@${version} #${i + 1}: ${message}\n`);
    }
  }
}
process.exit(failed ? 1 : 0);
