#!/usr/bin/env bash
# OpenSSH's sshd on 127.0.0.1:22 for the qemu+ssh service suite (a KVM host added by its
# management address, user root and password, without libvirtUri), without systemd.
# start: installs Debian's openssh-server if missing, gives root a random password for this
#        run (the previous password hash is kept and put back by stop), keeps a copy of root's
#        authorized_keys (Stratus installs its management key there), starts sshd with a
#        configuration and host key of its own (password and key logins, loopback only), waits
#        until it answers, and prints the export lines the suite reads (stdout holds nothing
#        else; logs go to stderr).
# stop:  stops what start started (recorded pid only), restores root's password and
#        authorized_keys.
# Needs libvirt (servers/libvirt.sh) for the suite itself: run.sh starts both.
set -euo pipefail
dir="${STRATUS_SERVICES_DIR:-$PWD/.services}/sshd"
mkdir -p "$dir"
chmod 700 "$dir"
port=22
log() { echo "[sshd] $*" >&2; }

running() { [ -f "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; }

install_if_missing() {
  if [ ! -x /usr/sbin/sshd ]; then
    log "installing openssh-server"
    apt-get update >&2
    # The package would start the system's sshd on every address: forbid service starts meanwhile.
    local policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=yes
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server >&2 || status=$?
    if [ -n "$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
    return "$status"
  fi
}

start() {
  [ "$(id -u)" = 0 ] && install_if_missing
  if running; then
    log "already running (pid $(cat "$dir/sshd.pid"))"
  else
    # Not ours to take over: the suite is then skipped (no export lines), the others run.
    if [ "$(id -u)" != 0 ]; then
      log "not root: cannot set root's password nor bind port $port; the qemu+ssh suite is skipped"
      return 0
    fi
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
      log "something else listens on 127.0.0.1:$port (the qemu+ssh URI carries no port); the qemu+ssh suite is skipped"
      return 0
    fi
    [ -f "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/ssh_host_ed25519_key" >&2
    # Root's password for this run only: random, handed to the suite, the old hash put back by stop.
    if [ ! -f "$dir/root-shadow" ]; then
      (umask 077; getent shadow root | cut -d: -f2 > "$dir/root-shadow")
    fi
    if [ ! -f "$dir/authorized_keys.saved" ]; then
      if [ -f /root/.ssh/authorized_keys ]; then cp -p /root/.ssh/authorized_keys "$dir/authorized_keys.saved"; else : > "$dir/authorized_keys.absent"; touch "$dir/authorized_keys.saved"; fi
    fi
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/root-password")
    echo "root:$(cat "$dir/root-password")" | chpasswd
    cat > "$dir/sshd_config" <<CONFIG
ListenAddress 127.0.0.1
Port $port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
CONFIG
    mkdir -p /run/sshd
    chmod 755 /run/sshd
    log "starting sshd on 127.0.0.1:$port"
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  fi
  for _ in $(seq 1 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
    sleep 0.2
  done
  if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    log "sshd does not answer on 127.0.0.1:$port; see $dir/sshd.log"
    exit 1
  fi
  echo "export STRATUS_TEST_SSH_HOST=127.0.0.1"
  echo "export STRATUS_TEST_SSH_USER=root"
  echo "export STRATUS_TEST_SSH_PASSWORD=$(cat "$dir/root-password")"
}

stop() {
  if running; then
    log "stopping sshd"
    kill "$(cat "$dir/sshd.pid")" || true
  fi
  rm -f "$dir/sshd.pid" "$dir/root-password"
  if [ -f "$dir/root-shadow" ]; then
    usermod -p "$(cat "$dir/root-shadow")" root || log "could not restore root's password"
    rm -f "$dir/root-shadow"
  fi
  if [ -f "$dir/authorized_keys.saved" ]; then
    if [ -f "$dir/authorized_keys.absent" ]; then rm -f /root/.ssh/authorized_keys "$dir/authorized_keys.absent"
    else cp -p "$dir/authorized_keys.saved" /root/.ssh/authorized_keys; fi
    rm -f "$dir/authorized_keys.saved"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
