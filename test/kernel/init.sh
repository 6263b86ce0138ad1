#!/bin/busybox sh
# /init of the initramfs test/kernel/run.sh builds: mounts what wgbench
# needs, loads the modules, runs the integration tests of the kernel and
# ipsec datapaths and of the latency probe and a small `wgbench run`,
# copies the run folder out (send_results) and prints a verdict line, and
# powers off. In a rehearsal
# (/etc/wgbench/mode), it runs the scenario files listed in
# /etc/wgbench/rehearse/jobs on the data ports instead.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin HOME=/root TMPDIR=/tmp
# The guest's e1000e (a NIC with MSI-X, on QEMU's isolated user network)
# is ours to reconfigure: the NIC tests check for this.
export WGBENCH_QEMU_GUEST=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /root /dev/net /dev/pts /dev/shm /var
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
ln -sf /run /var/run
mkdir -p /run/netns /run/lock

say() { echo "wgbench-guest: $*"; }

# send_results DIR copies /tmp/DIR out to the host: through the virtio
# port named wgbench.results when there is one (test/kernel/run.sh checks
# the size it says), else as base64 between markers on the console.
send_results() {
	tar -C /tmp -czf /tmp/results.tgz "$1"
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = wgbench.results ] || continue
		if cat /tmp/results.tgz >"/dev/$(basename "$p")"; then
			echo "=== wgbench-guest: results on the virtio port ($(wc -c </tmp/results.tgz) bytes)"
			rm -f /tmp/results.tgz
			return
		fi
	done
	echo "=== wgbench-guest: results begin"
	base64 </tmp/results.tgz
	echo "=== wgbench-guest: results end"
	rm -f /tmp/results.tgz
}
verdict=PASS
fail() { say "FAIL: $*"; verdict=FAIL; }

say "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
while read -r m; do
	insmod "/lib/modules/$m" || fail "insmod $m"
done </lib/modules/load.list
[ -c /dev/net/tun ] || mknod /dev/net/tun c 10 200
ip link set lo up

# make rehearse / make rehearse-catalogue: a gateway shaped like the
# papers' (test/kernel/run.sh boots it), scenario files run with gw1's and
# gw2's WAN on the two data ports.
mode=$(cat /etc/wgbench/mode 2>/dev/null || echo test)
if [ "$mode" != test ]; then
	byaddr() {
		for d in /sys/class/net/*; do
			[ "$(cat "$d/address")" = "$1" ] && basename "$d"
		done
	}
	ctl=$(byaddr 52:54:00:00:00:01)
	d1=$(byaddr 52:54:00:00:01:01)
	d2=$(byaddr 52:54:00:00:01:02)
	if [ -z "$ctl" ] || [ -z "$d1" ] || [ -z "$d2" ]; then
		fail "NICs missing: control '$ctl', data '$d1' '$d2'"
	else
		ip addr add 10.0.2.15/24 dev "$ctl"
		ip link set "$ctl" up
		ip route add default via 10.0.2.2 dev "$ctl"
		nic() {
			dev=/sys/class/net/$1/device
			echo "$1 ($(basename "$(readlink -f "$dev")") $(basename "$(readlink -f "$dev/driver")"), numa_node $(cat "$dev/numa_node"), $(ls "$dev/msi_irqs" 2>/dev/null | wc -l) MSI-X vectors, $(ls -d /sys/class/net/"$1"/queues/rx-* | wc -l) rx queue(s))"
		}
		layout=""
		for n in /sys/devices/system/node/node*; do
			layout="$layout$(basename "$n") CPUs $(cat "$n/cpulist"); "
		done
		say "layout: ${layout}control $(nic "$ctl") holds the default route; data $(nic "$d1") and $(nic "$d2") cabled to each other"
		say "=== ip route"
		ip route
		say "=== wgbench facts (NUMA nodes, links)"
		mkdir -p /tmp/runs
		wgbench facts >/tmp/runs/guest-facts.json || fail "wgbench facts exited $?"
		grep -E '^  "(numa_nodes|default_route)"|^      "(name|driver|bus|numa_node|local_cpus|rx_queues)"|^    "cpus"' /tmp/runs/guest-facts.json
		grep -A4 '"default_route"' /tmp/runs/guest-facts.json
		jobtimeout=$(cat /etc/wgbench/rehearse/job-timeout 2>/dev/null || echo 0)
		while IFS="$(printf '\t')" read -r name file flags; do
			say "=== rehearsal $name: wgbench run $file $flags"
			start=$(date +%s)
			# A file that hangs must not hide the others' verdicts: each
			# run gets at most job-timeout seconds (0: no limit), then
			# SIGTERM, on which wgbench undoes its changes.
			limit=""
			[ "${jobtimeout:-0}" -gt 0 ] && limit="timeout -s TERM $jobtimeout"
			eval "$limit wgbench run /etc/wgbench/rehearse/$file --out /tmp/runs/$name --set testbed.driver=local --set testbed.inventory= --set testbed.wan.gw1=$d1 --set testbed.wan.gw2=$d2 $flags" >/tmp/runs/$name.log 2>&1
			rc=$?
			tail -n 40 /tmp/runs/$name.log
			took=$(( $(date +%s) - start ))
			if [ -n "$limit" ] && [ "$took" -ge "$jobtimeout" ]; then
				say "rehearsal $name: timed out after $jobtimeout s (exit $rc)"
			fi
			say "rehearsal $name: exit $rc in $took s"
			# The ports must be back, as they were, after each run.
			for d in "$d1" "$d2"; do
				[ -e "/sys/class/net/$d" ] || fail "$d did not come back after $name"
			done
		done </etc/wgbench/rehearse/jobs
	fi
	send_results runs
	echo "WGBENCH-GUEST-VERDICT: $verdict"
	sync
	poweroff -f
fi

say "=== wgbench doctor"
wgbench doctor || fail "wgbench doctor exited $?"

say "=== go test (TestIntegration*)"
/bin/kernel.test -test.v -test.count=1 -test.timeout=7m -test.run '^TestIntegration' || fail "go test exited $?"
/bin/ipsec.test -test.v -test.count=1 -test.timeout=2m -test.run '^TestIntegration' || fail "go test (ipsec) exited $?"
/bin/latency.test -test.v -test.count=1 -test.timeout=2m -test.run '^TestIntegration' || fail "go test (latency) exited $?"

say "=== wgbench run"
start=$(date +%s)
wgbench run /etc/wgbench/guest.yaml --out /tmp/run || fail "wgbench run exited $?"
say "wgbench run took $(( $(date +%s) - start )) s"
if [ -f /tmp/run/run.json ]; then
	send_results run
else
	fail "no run folder"
fi
echo "WGBENCH-GUEST-VERDICT: $verdict"
sync
poweroff -f
