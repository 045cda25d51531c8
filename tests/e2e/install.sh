#!/usr/bin/env bash
# make install lays out programs, unit, catalog and example config; the unit passes
# systemd-analyze verify; the catalog compiles and explains every MESSAGE_ID the agent uses.
source "$(dirname "$0")/../lib.sh"
t_begin
DEST="$T_DIR/root"
out=$(make -s -C "$T_ROOT" install DESTDIR="$DEST" PREFIX=/usr/local BUILD="$BUILD" 2>&1)
check_eq "make install succeeds" 0 "$?"
for f in sbin/mcpwardend bin/mcpwarden lib/systemd/system/mcpwarden.service \
	lib/systemd/catalog/mcpwarden.catalog share/mcpwarden/mcpwarden.example.json; do
	if [ -f "$DEST/usr/local/$f" ]; then ok "installed: $f"; else not_ok "installed: $f" "$out"; fi
done
check_eq "mcpwardend is executable" 755 "$(stat -c %a "$DEST/usr/local/sbin/mcpwardend")"
unit="$DEST/usr/local/lib/systemd/system/mcpwarden.service"
check_match "the unit runs the installed daemon" "ExecStart=/usr/local/sbin/mcpwardend" "$(cat "$unit")"
check_match "the unit is Type=notify with a watchdog" "Type=notify" "$(grep -E '^(Type|WatchdogSec)=' "$unit" | tr '\n' ' ')"
# verify against the built binary (the installed path is under DESTDIR)
sed "s|/usr/local/sbin/mcpwardend|$BUILD/mcpwardend|" "$unit" >"$T_DIR/mcpwarden.service"
out=$(systemd-analyze verify "$T_DIR/mcpwarden.service" 2>&1)
if [ -z "$out" ]; then ok "systemd-analyze verify: clean"; else not_ok "systemd-analyze verify" "$out"; fi
check_match "the capability bounding set is limited" "^CapabilityBoundingSet=CAP_BPF " "$(grep CapabilityBoundingSet "$unit")"
out=$(journalctl --root="$DEST" --update-catalog 2>&1 && journalctl --root="$DEST" --list-catalog 2>&1)
for id in $(grep -o 'MW_MID_[A-Z_]* "[0-9a-f]*"' "$T_ROOT/agent/log.h" | grep -o '[0-9a-f]\{32\}'); do
	check_match "the catalog explains $id" "$id" "$out"
done
out=$(make -s -C "$T_ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr/local BUILD="$BUILD" 2>&1)
if [ ! -e "$DEST/usr/local/sbin/mcpwardend" ] && [ ! -e "$unit" ]; then ok "make uninstall removes them"; else
	not_ok "make uninstall" "$out"
fi
