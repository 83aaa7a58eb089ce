// Validates Kubernetes objects against the OpenAPI schemas that npm's
// kubernetes-models (Kubernetes 1.34 API) and @kubernetes-models/cert-manager
// ship, compiled as ajv validators, and also rejects unknown fields, which
// those validators let through.
//
// Unknown fields come from the same schemas: each object of the document is
// wrapped in a Proxy that records which keys the compiled validator reads.
// A schema's validator reads every property the schema declares; a key that
// was never read is one the schema does not have. Objects the validator
// enumerates (maps such as labels, ConfigMap data, resource quantities:
// additionalProperties schemas) accept any key and are skipped.
//
// stdin: JSON [{"where": "...", "doc": {...}, "partial": false}, ...]
//   partial: a strategic-merge patch; missing required fields are allowed.
// stdout: one line per problem ("where: /json/path: message"); exit 1 if any.

const SOURCES = [
  (group, version, kind) => `kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`,
  (group, version, kind) => `@kubernetes-models/cert-manager/${group}/${version}/${kind}`,
];

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  for (const source of SOURCES) {
    try {
      const mod = await import(source(group, version, kind));
      if (mod[kind]) return mod[kind];
    } catch (e) {
      if (e.code !== "ERR_MODULE_NOT_FOUND" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
    }
  }
  return null;
}

// A deep copy of `value` in which every object and array records its reads.
function track(value, records, path) {
  if (value === null || typeof value !== "object") return value;
  const rec = { path, read: new Set(), enumerated: false, isArray: Array.isArray(value) };
  const copy = rec.isArray
    ? value.map((v, i) => track(v, records, `${path}/${i}`))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, track(v, records, `${path}/${k}`)]));
  rec.keys = Object.keys(copy);
  records.push(rec);
  return new Proxy(copy, {
    get(t, k, r) { if (typeof k === "string") rec.read.add(k); return Reflect.get(t, k, r); },
    has(t, k) { if (typeof k === "string") rec.read.add(k); return Reflect.has(t, k); },
    getOwnPropertyDescriptor(t, k) { if (typeof k === "string") rec.read.add(k); return Reflect.getOwnPropertyDescriptor(t, k); },
    ownKeys(t) { rec.enumerated = true; return Reflect.ownKeys(t); },
  });
}

function schemaErrors(model, data) {
  try {
    model.prototype.validate.call(data);
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    return e.errors;
  }
}

async function check({ where, doc, partial }) {
  const problems = [];
  if (!doc || typeof doc !== "object" || !doc.apiVersion || !doc.kind) {
    return [`${where}: not a Kubernetes object (no apiVersion/kind)`];
  }
  const model = await modelFor(doc.apiVersion, doc.kind);
  if (!model) return [`${where}: no schema for ${doc.apiVersion} ${doc.kind}`];
  const records = [];
  for (const e of schemaErrors(model, track(doc, records, ""))) {
    if (partial && e.keyword === "required") continue;
    const detail = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : "";
    problems.push(`${where}: ${e.instancePath || "/"}: ${e.keyword}: ${e.message ?? ""}${detail}`.trimEnd());
  }
  for (const rec of records) {
    if (rec.isArray || rec.enumerated) continue;
    for (const k of rec.keys) {
      if (!rec.read.has(k)) problems.push(`${where}: ${rec.path}/${k}: unknown field "${k}" (not in the schema)`);
    }
  }
  return problems;
}

const input = JSON.parse(await new Promise((resolve, reject) => {
  let s = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (c) => (s += c));
  process.stdin.on("end", () => resolve(s));
  process.stdin.on("error", reject);
}));
let all = [];
for (const item of input) all = all.concat(await check(item));
for (const p of all) console.log(p);
console.error(`validate_schemas: ${input.length} objects, ${all.length} problem(s)`);
process.exit(all.length ? 1 : 0);
