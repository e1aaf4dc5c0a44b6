// Validates JSON bodies against a schema of an OpenAPI 3.0 document (Ajv,
// with OpenAPI's `nullable`): the stand-in forges of the tests answer what
// the real APIs document (tests/it/incident_import.rs).
//
//   node openapi-check.mjs SPEC.json '#/paths/~1repos~1{owner}~1{repo}~1issues/get/responses/200' BODY.json...
//
// The pointer names a response (its application/json schema is used) or a
// schema. Prints one line per error; exits 1 when any body is invalid.
import { readFileSync } from "node:fs";
import Ajv from "ajv";

const [specPath, pointer, ...bodies] = process.argv.slice(2);
const spec = jsonSchemaOf(JSON.parse(readFileSync(specPath, "utf8")));
let at = spec;
for (const part of pointer.replace(/^#\//, "").split("/")) {
  at = at?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
}
if (at === undefined) {
  console.error(`no ${pointer} in ${specPath}`);
  process.exit(2);
}
const schema = at.content?.["application/json"]?.schema ?? at;
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(spec, "spec");
const validate = ajv.compile({ $ref: `spec${pointer}${at.content ? "/content/application~1json/schema" : ""}` });
let bad = 0;
for (const file of bodies) {
  const body = JSON.parse(readFileSync(file, "utf8"));
  if (!validate(body)) {
    bad += 1;
    for (const e of validate.errors.slice(0, 20)) {
      console.log(`${file}: ${e.instancePath || "/"} ${e.message} (${e.schemaPath})`);
    }
  }
}
console.log(`${bodies.length - bad} of ${bodies.length} bodies valid`);
process.exit(bad ? 1 : 0);

// OpenAPI 3.0's `nullable: true` as JSON Schema: `null` is also allowed.
function jsonSchemaOf(node) {
  if (Array.isArray(node)) return node.map(jsonSchemaOf);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = jsonSchemaOf(v);
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if (typeof out.type === "string") return { ...out, type: [out.type, "null"] };
  return { anyOf: [{ type: "null" }, out] };
}
