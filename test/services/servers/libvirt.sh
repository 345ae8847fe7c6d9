#!/usr/bin/env bash
# libvirtd + QEMU for the libvirt service suites, without systemd.
# start: installs Debian's libvirt and QEMU if missing, creates the libvirt-qemu user,
#        starts virtlogd and libvirtd as daemons, waits until qemu:///system answers, defines
#        an isolated test network, and prints the export lines the suites read (stdout holds
#        nothing else; logs go to stderr).
# stop:  stops what start started (recorded pids only).
set -euo pipefail
dir="${STRATUS_SERVICES_DIR:-$PWD/.services}/libvirt"
mkdir -p "$dir"
uri="qemu:///system"
network="stratus-test"
log() { echo "[libvirt] $*" >&2; }

install_if_missing() {
  local missing=()
  command -v libvirtd >/dev/null || missing+=(libvirt-daemon libvirt-daemon-config-nwfilter)
  command -v virsh >/dev/null || missing+=(libvirt-clients)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null || missing+=(qemu-utils)
  command -v genisoimage >/dev/null || missing+=(genisoimage)
  command -v ebtables >/dev/null || missing+=(ebtables)
  command -v iptables >/dev/null || missing+=(iptables)
  [ -e /etc/libvirt/nwfilter/clean-traffic.xml ] || missing+=(libvirt-daemon-config-nwfilter)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" qemu-system-x86 >&2
  fi
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  install_if_missing
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu >&2 || true
  getent group kvm >/dev/null || groupadd --system kvm >&2 || true
  id libvirt-qemu >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/lib/libvirt -g libvirt-qemu -G kvm -s /usr/sbin/nologin libvirt-qemu >&2
  # QEMU runs as libvirt-qemu: it needs /dev/kvm through the kvm group.
  if [ -e /dev/kvm ]; then chgrp kvm /dev/kvm && chmod 660 /dev/kvm; fi
  mkdir -p /var/run/libvirt /var/lib/libvirt/images /var/log/libvirt/qemu /var/cache/libvirt/qemu
  if ! running "$dir/virtlogd.pid"; then
    log "starting virtlogd"
    virtlogd -d -p "$dir/virtlogd.pid" >&2
  fi
  if ! running "$dir/libvirtd.pid"; then
    log "starting libvirtd"
    libvirtd -d -p "$dir/libvirtd.pid" >&2
  fi
  for _ in $(seq 1 60); do
    if virsh -c "$uri" version >/dev/null 2>&1; then break; fi
    sleep 1
  done
  virsh -c "$uri" version >&2
  # An isolated network (no forwarding, no DHCP) so NICs are real tap devices that nwfilter
  # (clean-traffic) can filter; a failure here leaves the suites on user-mode networking.
  if ! virsh -c "$uri" net-info "$network" >/dev/null 2>&1; then
    cat > "$dir/$network.xml" <<XML
<network><name>$network</name><bridge name='virbr-stratus' stp='off'/></network>
XML
    virsh -c "$uri" net-define "$dir/$network.xml" >&2 || log "could not define network $network"
  fi
  if virsh -c "$uri" net-start "$network" >&2 2>/dev/null || virsh -c "$uri" net-info "$network" 2>/dev/null | grep -q 'Active: *yes'; then
    echo "export STRATUS_TEST_LIBVIRT_NETWORK=$network"
  else
    log "network $network is not active: NICs use user-mode networking"
  fi
  echo "export STRATUS_TEST_LIBVIRT_URI=$uri"
}

stop() {
  virsh -c "$uri" net-destroy "$network" >/dev/null 2>&1 || true
  for daemon in libvirtd virtlogd; do
    if running "$dir/$daemon.pid"; then
      log "stopping $daemon"
      kill "$(cat "$dir/$daemon.pid")" || true
    fi
    rm -f "$dir/$daemon.pid"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
