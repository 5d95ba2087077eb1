#!/usr/bin/env bash
# Installs every Debian package that tutti's build, tests and demo need.
# Idempotent: packages already installed are skipped, and nothing runs when
# everything is present. Uses sudo when not run as root.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache
  # wire, disk and transport
  capnproto libcapnp-dev libzmq3-dev cppzmq-dev
  # ZooKeeper: the C client for masters and drivers, the server for tests
  libzookeeper-mt-dev zookeeper default-jre-headless
  # logging, flags, tests, benchmarks
  libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev libbenchmark-dev
  # the static tutti-executor: glog's unwinder and its compression library
  libunwind-dev liblzma-dev
  # HTTP and JSON
  libcpp-httplib-dev nlohmann-json3-dev libssl-dev
  # regular expressions from users (placement constraints); the master's allocator
  libre2-dev libjemalloc-dev
  # images and containers (agent containerizer and its tests)
  libarchive-dev libseccomp-dev runc docker-registry skopeo umoci busybox-static
  # tools the scripts and tests call
  curl procps iproute2 python3 util-linux openssl
  # memory checks of a few tests (use-after-free of a destroyed driver)
  valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
