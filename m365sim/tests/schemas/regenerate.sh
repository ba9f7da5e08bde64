#!/bin/sh
# Regenerates graph-v1.json.gz: JSON Schemas of Microsoft's own TypeScript model of Graph v1.0
# (npm @microsoft/microsoft-graph-types, converted with ts-json-schema-generator), merged into
# one file with a "roots" map. Used by test_schemas.py as an oracle for response shapes.
set -e
dir=$(mktemp -d)
here=$(cd "$(dirname "$0")" && pwd)
cd "$dir"
npm init -y >/dev/null
npm install --no-audit --no-fund @microsoft/microsoft-graph-types ts-json-schema-generator >/dev/null
for T in User Group Domain Organization ServicePrincipal SubscribedSku UnifiedRoleAssignment DirectoryRole; do
  npx ts-json-schema-generator --path node_modules/@microsoft/microsoft-graph-types/microsoft-graph.d.ts \
    --type "$T" --no-type-check -o "$T.json"
done
python3 - "$here/graph-v1.json.gz" <<'PY'
import gzip, json, sys
defs, roots = {}, {}
for t in "User Group Domain Organization ServicePrincipal SubscribedSku UnifiedRoleAssignment DirectoryRole".split():
    s = json.load(open(f"{t}.json"))
    roots[t] = s["$ref"]
    defs.update(s["definitions"])
data = {"$schema": "http://json-schema.org/draft-07/schema#", "roots": roots, "definitions": defs}
gzip.open(sys.argv[1], "wb").write(json.dumps(data, separators=(",", ":")).encode())
PY
