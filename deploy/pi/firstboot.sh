#!/bin/sh
# FleetSync first-boot provisioning, run by fleetsync-firstboot.service (installed as /usr/lib/fleetsync/firstboot).
#
# Takes fleetsync.json from the boot partition, validates it with the agent's own configuration schema, installs it
# as /etc/fleetsync/agent.json (0640 root:fleetsync, replaced atomically), moves the original off the boot
# partition (it holds the truck's credentials, and anyone with the SD card can read a FAT partition) and
# (re)starts the agent. A fleet CA certificate beside it, fleetsync-ca.crt, is installed as /etc/fleetsync/ca.crt
# (the file the configuration's broker.caFile names).
# It leaves a short receipt beside where the file was, so an installer who pulls the card sees what happened:
#   fleetsync-imported.txt  the import worked
#   fleetsync-error.txt     the file was refused; it is renamed fleetsync.json.rejected, so it is not retried on
#                           every boot. Fix it, rename it back to fleetsync.json and reboot.
#
# The environment variables below exist so the test suite can run this script against temporary folders; the
# systemd unit sets none of them.
set -eu

BOOT_DIRS=${FLEETSYNC_BOOT_DIRS:-"/boot/firmware /boot"}
CONFIG_DIR=${FLEETSYNC_CONFIG_DIR:-/etc/fleetsync}
GROUP=${FLEETSYNC_GROUP:-fleetsync}
LIBDIR=${FLEETSYNC_LIBDIR:-/usr/lib/fleetsync}
SYSTEMCTL=${FLEETSYNC_SYSTEMCTL:-systemctl}

log() { printf 'fleetsync-firstboot: %s\n' "$*"; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

src=""
for dir in $BOOT_DIRS; do
  if [ -f "$dir/fleetsync.json" ]; then
    src="$dir/fleetsync.json"
    break
  fi
done
if [ -z "$src" ]; then
  log "no fleetsync.json on the boot partition (looked in: $BOOT_DIRS); nothing to do"
  exit 0
fi
boot_dir=$(dirname "$src")
log "found $src"

refuse() {
  mv -f "$src" "$src.rejected"
  {
    printf 'FleetSync could not use fleetsync.json (%s).\n\n' "$(now)"
    printf '%s\n' "$1"
    printf '\nThe file was renamed fleetsync.json.rejected. Fix it, rename it back to fleetsync.json and reboot.\n'
    printf 'Details on the gateway: journalctl -u fleetsync-firstboot\n'
  } >"$boot_dir/fleetsync-error.txt"
  rm -f "$boot_dir/fleetsync-imported.txt"
  sync
  log "refused $src: $1"
  exit 1
}

# Validation: the agent's own schema decides (agent/config.ts, through check-config.mjs), so the rules live in
# one place and the message names the field. `fleetsync provision` has no --from-file mode to do this yet.
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
if ! node "$LIBDIR/check-config.mjs" "$src" >"$out" 2>"$err"; then
  refuse "$(cat "$err")"
fi
truck=$(sed -n 1p "$out")
ca_file=$(sed -n 2p "$out")

umask 077
mkdir -p "$CONFIG_DIR"
chmod 0750 "$CONFIG_DIR"
chown "root:$GROUP" "$CONFIG_DIR"

# The fleet CA is a public certificate: readable by all, replaced whole.
if [ -f "$boot_dir/fleetsync-ca.crt" ]; then
  if ! grep -q -- "-----BEGIN CERTIFICATE-----" "$boot_dir/fleetsync-ca.crt"; then
    refuse "fleetsync-ca.crt is not a PEM certificate (it must start with -----BEGIN CERTIFICATE-----)"
  fi
  install -m 0644 -o root -g root "$boot_dir/fleetsync-ca.crt" "$CONFIG_DIR/ca.crt"
fi
if [ -n "$ca_file" ] && [ ! -f "$ca_file" ]; then
  refuse "broker.caFile is $ca_file, which does not exist on the gateway. Copy the fleet CA certificate onto the boot partition as fleetsync-ca.crt (it is installed as $CONFIG_DIR/ca.crt)."
fi

# Install: write beside the target with the final owner and mode, then rename over it, so the agent never reads
# a half-written or world-readable file. The previous configuration is kept (root only) for a rollback.
tmp=$(mktemp "$CONFIG_DIR/.agent.json.XXXXXX")
cat "$src" >"$tmp"
chown "root:$GROUP" "$tmp"
chmod 0640 "$tmp"
if [ -f "$CONFIG_DIR/agent.json" ]; then
  cp -p "$CONFIG_DIR/agent.json" "$CONFIG_DIR/agent.json.previous"
  chown root:root "$CONFIG_DIR/agent.json.previous"
  chmod 0600 "$CONFIG_DIR/agent.json.previous"
fi
mv -f "$tmp" "$CONFIG_DIR/agent.json"

# The original goes to a root-only folder; only the receipt stays on the FAT partition.
mkdir -p "$CONFIG_DIR/imported"
chmod 0700 "$CONFIG_DIR/imported"
mv -f "$src" "$CONFIG_DIR/imported/fleetsync.json"
chmod 0600 "$CONFIG_DIR/imported/fleetsync.json"
rm -f "$boot_dir/fleetsync-error.txt" "$boot_dir/fleetsync.json.rejected" "$boot_dir/fleetsync-ca.crt"
{
  printf 'FleetSync imported fleetsync.json for truck %s on %s (UTC).\n' "$truck" "$(now)"
  printf 'It is now /etc/fleetsync/agent.json on the gateway; the copy on this card was removed.\n'
  printf 'Next: run "sudo fleetsync doctor" on the gateway (installer guide, step 5).\n'
} >"$boot_dir/fleetsync-imported.txt"
sync
log "installed $CONFIG_DIR/agent.json for truck $truck (0640 root:$GROUP); original moved to $CONFIG_DIR/imported/"

# Enable for every later boot, and (re)start now without waiting: this unit is ordered before the agent, so a
# blocking start from here would wait on itself.
"$SYSTEMCTL" enable fleetsync-agent.service
"$SYSTEMCTL" restart --no-block fleetsync-agent.service
log "fleetsync-agent enabled and (re)started"
