#!/bin/busybox sh
# /init of the initramfs test/kernel/run.sh builds: mounts what wgbench
# needs, loads the modules, runs the kernel datapath's integration tests and
# a small `wgbench run`, prints the run folder (tar.gz, base64) between
# markers and a verdict line, and powers off.
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
verdict=PASS
fail() { say "FAIL: $*"; verdict=FAIL; }

say "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
while read -r m; do
	insmod "/lib/modules/$m" || fail "insmod $m"
done </lib/modules/load.list
[ -c /dev/net/tun ] || mknod /dev/net/tun c 10 200
ip link set lo up

say "=== wgbench doctor"
wgbench doctor || fail "wgbench doctor exited $?"

say "=== go test (TestIntegration*)"
/bin/kernel.test -test.v -test.count=1 -test.timeout=4m -test.run '^TestIntegration' || fail "go test exited $?"

say "=== wgbench run"
start=$(date +%s)
wgbench run /etc/wgbench/guest.yaml --out /tmp/run || fail "wgbench run exited $?"
say "wgbench run took $(( $(date +%s) - start )) s"
if [ -f /tmp/run/run.json ]; then
	echo "=== wgbench-guest: results begin"
	tar -C /tmp -czf - run | base64
	echo "=== wgbench-guest: results end"
else
	fail "no run folder"
fi
echo "WGBENCH-GUEST-VERDICT: $verdict"
sync
poweroff -f
