#!/usr/bin/env bash
# The GitHub Action's install-and-run script (action.yml runs it).
#
# 1. Picks the release archive for RUNNER_OS/RUNNER_ARCH (uname outside
#    Actions), downloads it and checks its SHA-256 against the checksums
#    committed in this repository (action/checksums.txt). A mismatch stops
#    here: nothing is installed or run.
# 2. Without a committed checksum for this target and version, builds from
#    the tagged source with `cargo install --locked`.
# 3. Puts the binary on PATH for later steps and runs
#    `dorameter <command> <args>` unless the command is `install`.
#
# Inputs arrive only as environment variables (INPUT_*), never spliced into
# the script's text. Overrides, for tests, mirrors and self-hosted runners:
#   DORAMETER_DOWNLOAD_BASE   release download base URL
#   DORAMETER_ACTION_CHECKSUMS  checksums file
#   DORAMETER_INSTALL_DIR     where the binary goes
#   DORAMETER_SOURCE_REPO     git URL for the cargo install fallback
#   CARGO                     the cargo to run for the fallback
set -euo pipefail

repo_url="https://github.com/dorameter/dorameter"

fail() {
  local msg="$*"
  echo "error: $msg" >&2
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    msg=${msg//'%'/'%25'}; msg=${msg//$'\r'/'%0D'}; msg=${msg//$'\n'/'%0A'}
    echo "::error title=dorameter action::$msg"
  fi
  exit 1
}
note() { echo "dorameter action: $*" >&2; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    fail "no sha256sum, shasum or openssl to verify the download with"
  fi
}

download() { # url file
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --proto-redir '=https' \
      --retry 3 --retry-delay 2 --connect-timeout 10 --max-time 300 \
      --output "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --tries=3 --timeout=60 --output-document="$2" "$1"
  else
    fail "neither curl nor wget is installed"
  fi
}

# --- What to install ------------------------------------------------------
action_dir="${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
checksums="${DORAMETER_ACTION_CHECKSUMS:-$action_dir/action/checksums.txt}"
[ -r "$checksums" ] || fail "cannot read the checksums file $checksums"
pinned=$(sed -n 's/^# version: *\([^ ]*\) *$/\1/p' "$checksums" | head -n 1)
version="${INPUT_VERSION:-$pinned}"
version="${version#v}"
[ -n "$version" ] || fail "no version: set the 'version' input or '# version:' in $checksums"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
  fail "invalid version '$version' (expected e.g. 1.2.3)"

os="${RUNNER_OS:-$(uname -s)}"
arch="${RUNNER_ARCH:-$(uname -m)}"
target=""
exe="dorameter"
case "$os" in
  Linux)
    case "$arch" in
      X64 | x86_64 | amd64) target=x86_64-unknown-linux-musl ;;
      ARM64 | aarch64 | arm64) target=aarch64-unknown-linux-musl ;;
    esac ;;
  macOS | Darwin)
    case "$arch" in
      X64 | x86_64) target=x86_64-apple-darwin ;;
      ARM64 | arm64 | aarch64) target=aarch64-apple-darwin ;;
    esac ;;
  Windows | MINGW* | MSYS* | CYGWIN*)
    exe="dorameter.exe"
    case "$arch" in
      X64 | x86_64 | amd64) target=x86_64-pc-windows-msvc ;;
    esac ;;
esac

asset=""
expected=""
if [ -n "$target" ]; then
  asset="dorameter-$version-$target.tar.gz"
  # Committed checksums describe the pinned version only.
  if [ "$version" = "$pinned" ]; then
    expected=$(awk -v a="$asset" '$1 !~ /^#/ && ($2 == a || $2 == "*" a) { print tolower($1); exit }' "$checksums")
  fi
fi

cache_root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}"
install_dir="${DORAMETER_INSTALL_DIR:-$cache_root/dorameter/$version/${target:-source}}"
mkdir -p "$install_dir"

# --- Install ---------------------------------------------------------------
if [ -n "$expected" ]; then
  [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "malformed checksum for $asset in $checksums"
  bin_dir="$install_dir"
  if [ -x "$bin_dir/$exe" ] && [ "$(cat "$bin_dir/.sha256" 2>/dev/null)" = "$expected" ]; then
    note "dorameter $version ($target) already installed in $bin_dir"
  else
    base="${DORAMETER_DOWNLOAD_BASE:-$repo_url/releases/download}"
    url="${base%/}/v$version/$asset"
    tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/dorameter.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    note "downloading $url"
    download "$url" "$tmp/$asset" || fail "could not download $url"
    actual=$(sha256_of "$tmp/$asset")
    if [ "$actual" != "$expected" ]; then
      fail "checksum mismatch for $asset: expected $expected (from $checksums), got $actual; refusing to install it"
    fi
    (cd "$tmp" && mkdir x && cd x && tar -xzf "../$asset") || fail "could not unpack $asset"
    [ -f "$tmp/x/$exe" ] || fail "$asset does not contain $exe"
    chmod +x "$tmp/x/$exe"
    mv -f "$tmp/x/$exe" "$bin_dir/$exe"
    printf '%s\n' "$expected" >"$bin_dir/.sha256"
    rm -rf "$tmp"
    trap - EXIT
  fi
else
  bin_dir="$install_dir/bin"
  if [ -x "$bin_dir/$exe" ] && [ "$(cat "$install_dir/.source" 2>/dev/null)" = "v$version" ]; then
    note "dorameter $version already built in $bin_dir"
  else
    why="no release binary for ${target:-$os/$arch}"
    [ -n "$target" ] && why="no committed checksum for $asset"
    note "$why; building v$version from source with cargo install --locked (this takes a few minutes)"
    cargo="${CARGO:-cargo}"
    command -v "$cargo" >/dev/null 2>&1 ||
      fail "$why, and cargo is not installed to build it (add a Rust toolchain step, or use a runner dorameter ships binaries for)"
    "$cargo" install --locked --git "${DORAMETER_SOURCE_REPO:-$repo_url}" --tag "v$version" \
      --root "$install_dir" dorameter || fail "cargo install of dorameter v$version failed"
    [ -x "$bin_dir/$exe" ] || fail "cargo install did not produce $bin_dir/$exe"
    printf 'v%s\n' "$version" >"$install_dir/.source"
  fi
fi
bin="$bin_dir/$exe"

if [ -n "${GITHUB_PATH:-}" ]; then
  path_entry="$bin_dir"
  command -v cygpath >/dev/null 2>&1 && path_entry=$(cygpath -w "$bin_dir")
  printf '%s\n' "$path_entry" >>"$GITHUB_PATH"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  printf 'version=%s\npath=%s\n' "$version" "$bin" >>"$GITHUB_OUTPUT"
fi

# --- Run -------------------------------------------------------------------
command_words=()
read -r -a command_words <<<"${INPUT_COMMAND:-}"
if [ "${command_words[0]:-}" = install ]; then
  exit 0
fi
for w in ${command_words[@]+"${command_words[@]}"}; do
  [[ "$w" =~ ^[a-z][a-z-]*$ ]] || fail "invalid command word '$w' (expected e.g. 'deploy' or 'incident open')"
done

# One argument per line when there are several lines (values with spaces);
# otherwise split on whitespace. Never evaluated by a shell.
args=()
if [[ "${INPUT_ARGS:-}" == *$'\n'* ]]; then
  while IFS= read -r line; do
    line="${line%$'\r'}"
    [ -n "$line" ] && args+=("$line")
  done <<<"$INPUT_ARGS"
else
  read -r -a args <<<"${INPUT_ARGS:-}"
fi

# Inputs become the CLI's own environment variables (flags win over them).
[ -n "${INPUT_SERVICE:-}" ] && export DORAMETER_SERVICE="$INPUT_SERVICE"
[ -n "${INPUT_ENV:-}" ] && export DORAMETER_ENV="$INPUT_ENV"
# The store: the input, else the job's DORAMETER_STORE, else the git store on
# the repository's own remote (docs/git-store.md): history with no database.
if [ -n "${INPUT_STORE:-}" ]; then
  export DORAMETER_STORE="$INPUT_STORE"
elif [ -z "${DORAMETER_STORE:-}" ]; then
  export DORAMETER_STORE=git
fi
[ -n "${INPUT_SINKS:-}" ] && export DORAMETER_SINKS="$INPUT_SINKS"
[ -n "${INPUT_FORMAT:-}" ] && export DORAMETER_FORMAT="$INPUT_FORMAT"
[ -n "${INPUT_GITHUB_TOKEN:-}" ] && export GITHUB_TOKEN="$INPUT_GITHUB_TOKEN"

exec "$bin" ${command_words[@]+"${command_words[@]}"} ${args[@]+"${args[@]}"}
