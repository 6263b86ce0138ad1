#!/usr/bin/env bash
# Installs what wgbench needs on a Debian/Ubuntu machine, when missing:
# iperf3 and ping for the testbed, openvpn for the baseline datapath, and
# checks the Go toolchain.
# Idempotent; called by `make run` and `make test`.
set -euo pipefail

need=()
command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v openvpn >/dev/null 2>&1 || need+=(openvpn)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need[*]}; run as root (sudo make …) so they can be installed" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    GO=/usr/local/go/bin/go
  else
    echo "setup: no Go toolchain found; install Go $(sed -n 's/^go //p' go.mod) or newer from go.dev and put it on PATH" >&2
    exit 1
  fi
fi
want=$(sed -n 's/^go //p' go.mod)
have=$("$GO" env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
  echo "setup: Go $have is older than the $want go.mod asks for; install a newer Go" >&2
  exit 1
fi
