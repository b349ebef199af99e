#!/usr/bin/env bash
# Regenerates graphiql/assets/ from npm at the versions pinned in graphiql.go
# (the same builds and SRI hashes gqlgen's playground loads from a CDN).
# usage: bash graphiql/update.sh    (needs npm and openssl; run from anywhere)
# After changing a version here, change it (and its hash) in graphiql.go too:
# the package's tests check every asset against its pinned hash.
set -euo pipefail
GRAPHIQL=4.1.2
REACT=18.2.0
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
out="$here/assets"
mkdir -p "$out"
cp "graphiql-$GRAPHIQL/package/graphiql.min.js" "graphiql-$GRAPHIQL/package/graphiql.min.css" "$out/"
cp "react-$REACT/package/umd/react.production.min.js" "$out/"
cp "react-dom-$REACT/package/umd/react-dom.production.min.js" "$out/"
{
  echo "graphiql@$GRAPHIQL"; cat "graphiql-$GRAPHIQL/package/LICENSE"; echo
  echo "react@$REACT and react-dom@$REACT"; cat "react-$REACT/package/LICENSE"
} >"$out/LICENSES.txt"
for f in "$out"/*.js "$out"/*.css; do
  echo "$(basename "$f") sha256-$(openssl dgst -sha256 -binary "$f" | base64)"
done
