#!/usr/bin/env bash
# make test-kernel: run the kernel datapath's tests in a real kernel that has
# WireGuard — Debian's current linux-image-*-amd64 under QEMU (TCG, no KVM
# needed) — because the machine running the suite may have no WireGuard
# module (see test/kernel/README.md).
#
# 1. installs qemu-system-x86, busybox-static and cpio if missing (root);
# 2. downloads Debian's kernel package once and caches vmlinuz and the
#    modules the tests need under $WGBENCH_CACHE (default .cache/kernel);
# 3. builds an initramfs: busybox, the modules in dependency order, a static
#    wgbench, static test binaries of ./datapath/kernel, ./datapath/ipsec
#    and ./probes/latency, iperf3 and wg(8)
#    (Debian's wireguard-tools, downloaded once) with their shared
#    libraries, test/kernel/init.sh as /init and guest.yaml;
# 4. boots it with a timeout; the guest runs the TestIntegration* tests and
#    `wgbench run guest.yaml`, prints the run folder and its verdict;
# 5. checks the guest's own verdict line, that every integration test
#    passed (none skipped), and the run folder (test/kernel/checkrun).
#
# The cache is $WGBENCH_CACHE, else $XDG_CACHE_HOME/wgbench/kernel, else
# .cache/kernel (gitignored). The console log stays in
# <cache>/work/console.log, the run folder in <cache>/work/run.
# Environment: GO (go binary), QEMU_TIMEOUT
# (seconds, default 600), KERNEL_PKG (a linux-image-* package to use instead
# of the one linux-image-amd64 depends on).
#
# `run.sh rehearse` (make rehearse) and `run.sh catalogue` (make
# rehearse-catalogue) boot the same kernel shaped like the papers' gateway
# instead — 4 vCPUs in 2 NUMA nodes, a control NIC on node 0 holding the
# default route, two data ports on node 1 behind a PCI expander bridge,
# cabled to each other — and run `wgbench run` on scenario files there with
# gw1's and gw2's WAN on the data ports (testbed.wan). rehearse takes
# SCENARIO, RUNFLAGS and REHEARSAL_OUT (default .cache/rehearsal/run);
# catalogue rehearses every file in scenarios/ and scenarios/cloudlab/,
# scaled down by CATALOGUE_FLAGS, in one boot, into REHEARSAL_OUT (default
# .cache/rehearsal/catalogue/<file>). See test/kernel/README.md.
set -euo pipefail
mode=${1:-test}
case $mode in
test | rehearse | catalogue) ;;
*) echo "usage: $0 [test|rehearse|catalogue]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -n "${WGBENCH_CACHE:-}" ]; then
	cache=$WGBENCH_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
	cache=$XDG_CACHE_HOME/wgbench/kernel
else
	cache=$repo/.cache/kernel
fi
work=$cache/work
[ "$mode" = test ] || work=$cache/rehearse
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
case $mode in
test) timeout_s=${QEMU_TIMEOUT:-600} ;;
rehearse) timeout_s=${QEMU_TIMEOUT:-1200} ;;
catalogue) timeout_s=${QEMU_TIMEOUT:-2400} ;;
esac
# The modules the guest loads, with their dependencies. sch_netem: the
# latency probe's check against a netem delay.
modules=(wireguard veth tun xfrm_user nfnetlink e1000e esp4 sch_netem)
# Loaded when the kernel has them as modules, in this order: the crypto
# the ipsec datapath's AEADs instantiate at run time, which the kernel
# would otherwise ask modprobe for (the guest has none). ESP wraps its
# AEAD in seqiv(...), whose instances draw their salt from the default
# RNG, "stdrng": that is drbg (Debian builds it as a module), without
# which every SA add fails with ENOENT although /proc/crypto lists the
# AEADs; sha512_generic first, without which drbg's hmac(sha512) DRBG
# fails its self-test with a kernel warning.
optional_modules=(seqiv echainiv authenc gcm ctr ghash-generic aes_generic chacha20poly1305 chacha_generic chacha-generic poly1305_generic poly1305-generic sha512_generic drbg)
# virtio_console (with virtio_pci): the port the guest copies its run
# folders out through, much faster than base64 on the serial console,
# which stays the fallback.
optional_modules+=(virtio_pci virtio_console)
# The integration tests that must pass (not skip) in the guest.
tests=(TestIntegrationServeKernel TestIntegrationTunnelsCarryTraffic TestIntegrationThreadedNAPI TestIntegrationStockModuleRefusesPatchedKnobs TestIntegrationWANKnobs TestIntegrationNICQueueIRQs TestIntegrationJournalAfterKill TestIntegrationInteropInline TestIntegrationUndoJournal TestIntegrationIPsecTunnel TestIntegrationNetemDelay)

me=test-kernel
[ "$mode" = test ] || me=rehearse
log() { echo "$me: $*"; }
die() { echo "$me: FAIL: $*" >&2; exit 1; }
t0=$(date +%s)

# 1. tools
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
{ [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; } || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v depmod >/dev/null || need+=(kmod)
command -v file >/dev/null || need+=(file)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${need[*]}; run as root or: sudo apt-get install ${need[*]}"
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
busybox=/bin/busybox
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static (install busybox-static)"

# 2. kernel
mkdir -p "$cache/debs" "$work"
pkg=${KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}') || true
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}') || true
	fi
	if [ -z "$pkg" ]; then
		# Offline: fall back to the newest kernel already cached.
		pkg=$(ls -1 "$cache" 2>/dev/null | grep '^linux-image-' | sort -V | tail -1) || true
	fi
	[ -n "$pkg" ] || die "cannot tell Debian's current kernel package (apt-cache depends linux-image-amd64 found none; run apt-get update)"
fi
kdir=$cache/$pkg
if [ ! -f "$kdir/vmlinuz" ] || [ ! -f "$kdir/modules/load.list" ] || [ "$(cat "$kdir/wanted" 2>/dev/null)" != "${modules[*]} ${optional_modules[*]}" ]; then
	deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -1) || true
	if [ -z "$deb" ]; then
		log "downloading $pkg"
		(cd "$cache/debs" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
		deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -1) || true
		[ -n "$deb" ] || die "apt-get download $pkg failed"
	fi
	log "extracting $(basename "$deb")"
	x=$(mktemp -d "$cache/extract.XXXXXX")
	trap 'rm -rf "$x"' EXIT
	dpkg-deb -x "$deb" "$x"
	kver=$(ls "$x/lib/modules" | head -1)
	[ -n "$kver" ] || die "$deb has no lib/modules"
	depmod -b "$x" "$kver"
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp/modules"
	cp "$x/boot/vmlinuz-$kver" "$kdir.tmp/vmlinuz"
	# Order the modules and their dependencies: dependencies first.
	dep=$x/lib/modules/$kver/modules.dep
	declare -A seen=()
	order=()
	visit() {
		local path=$1 d
		[ -n "${seen[$path]:-}" ] && return
		seen[$path]=1
		for d in $(awk -v p="$path:" '$1 == p {for (i = 2; i <= NF; i++) print $i}' "$dep"); do
			visit "$d"
		done
		order+=("$path")
	}
	for m in "${modules[@]}" "${optional_modules[@]}"; do
		path=$(awk -F: -v m="/$m.ko" 'index($1, m) && substr($1, length($1) - length(m) + 1) == m {print $1; exit}' "$dep")
		if [ -z "$path" ]; then
			grep -q "/$m.ko" "$x/lib/modules/$kver/modules.builtin" && continue
			[[ " ${optional_modules[*]} " == *" $m "* ]] && continue
			die "$pkg has no module $m"
		fi
		visit "$path"
	done
	for p in "${order[@]}"; do
		mkdir -p "$kdir.tmp/modules/$(dirname "$p")"
		cp "$x/lib/modules/$kver/$p" "$kdir.tmp/modules/$p"
		echo "$p" >>"$kdir.tmp/modules/load.list"
	done
	echo "$kver" >"$kdir.tmp/release"
	echo "${modules[*]} ${optional_modules[*]}" >"$kdir.tmp/wanted"
	rm -rf "$kdir"
	mv "$kdir.tmp" "$kdir"
	rm -rf "$x"
	trap - EXIT
fi
log "kernel $(cat "$kdir/release") ($pkg), modules: $(tr '\n' ' ' <"$kdir/modules/load.list")"

# wg(8), so that the guest can `wg show` its devices: Debian's
# wireguard-tools package, downloaded once and cached like the kernel.
wg=$cache/wireguard-tools/wg
if [ ! -x "$wg" ]; then
	deb=$(ls "$cache/debs/wireguard-tools_"*.deb 2>/dev/null | head -1) || true
	if [ -z "$deb" ]; then
		log "downloading wireguard-tools"
		for try in 1 2; do
			(cd "$cache/debs" && apt-get download wireguard-tools 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
			deb=$(ls "$cache/debs/wireguard-tools_"*.deb 2>/dev/null | head -1) || true
			[ -n "$deb" ] && break
			[ $try = 2 ] || [ "$(id -u)" != 0 ] || apt-get update -qq
		done
		[ -n "$deb" ] || die "apt-get download wireguard-tools failed (run apt-get update)"
	fi
	x=$(mktemp -d "$cache/extract.XXXXXX")
	dpkg-deb -x "$deb" "$x"
	mkdir -p "$(dirname "$wg")"
	cp "$x/usr/bin/wg" "$wg.tmp" && mv "$wg.tmp" "$wg"
	rm -rf "$x"
fi

# 3. initramfs
root=$work/root
rm -rf "$root" "$work/run" "$work/console.log"
mkdir -p "$root"/{bin,etc/wgbench,lib/modules,proc,sys,dev,run,tmp,root,usr/bin}
cp "$busybox" "$root/bin/busybox"
cp -r "$kdir/modules/." "$root/lib/modules/"
cp "$here/init.sh" "$root/init"
echo "$mode" >"$root/etc/wgbench/mode"
if [ "$mode" = test ]; then
	cp "$here/guest.yaml" "$root/etc/wgbench/guest.yaml"
	log "building wgbench and the kernel test binary (static)"
	(cd "$repo" && CGO_ENABLED=0 "$GO" build -trimpath -o "$root/bin/wgbench" ./cmd/wgbench)
	(cd "$repo" && CGO_ENABLED=0 "$GO" test -c -trimpath -o "$root/bin/kernel.test" ./datapath/kernel)
	(cd "$repo" && CGO_ENABLED=0 "$GO" test -c -trimpath -o "$root/bin/ipsec.test" ./datapath/ipsec)
	(cd "$repo" && CGO_ENABLED=0 "$GO" test -c -trimpath -o "$root/bin/latency.test" ./probes/latency)
else
	# The jobs: one line per scenario, NAME<TAB>FILE<TAB>FLAGS.
	mkdir -p "$root/etc/wgbench/rehearse"
	jobs=$root/etc/wgbench/rehearse/jobs
	: >"$jobs"
	add_job() { # name file flags
		cp "$2" "$root/etc/wgbench/rehearse/$1.yaml"
		printf '%s\t%s\t%s\n' "$1" "$1.yaml" "$3" >>"$jobs"
	}
	if [ "$mode" = rehearse ]; then
		scenario=${SCENARIO:-}
		[ -n "$scenario" ] || die "give the scenario: make rehearse SCENARIO=path [RUNFLAGS='--set k=v …']"
		[ -f "$scenario" ] || die "no scenario file $scenario"
		add_job run "$scenario" "${RUNFLAGS:-}"
	else
		flags=${CATALOGUE_FLAGS:-"--set 'sweep.tunnels=[2]' --set 'sweep.flows=[1]' --set repetitions=1 --set traffic.duration=1s --set traffic.omit=0s"}
		for f in "$repo"/scenarios/*.yaml "$repo"/scenarios/cloudlab/*.yaml; do
			name=$(basename "$f" .yaml)
			case $f in */cloudlab/*) name=cloudlab-$name ;; esac
			# Two tunnels (every series, with more than one tunnel to
			# place). Sweeps over more than tunnels are scaled on their
			# own axis too: one tunnel, the smallest and the largest MTU,
			# and for the rate search two packet sizes and the fewest
			# trials; the idle latency probe runs 1 s. Every series of
			# every file still runs.
			extra=
			if [ -z "${CATALOGUE_FLAGS:-}" ]; then
				grep -Eq '^[[:space:]]+(mtu|packet_size):' "$f" && extra="--set 'sweep.tunnels=[1]'"
				grep -Eq '^[[:space:]]+mtu:' "$f" && extra="$extra --set 'sweep.mtu=[1280,8920]'"
				grep -Eq '^[[:space:]]+rate:[[:space:]]+search' "$f" &&
					extra="$extra --set 'sweep.packet_size=[64,1420]' --set traffic.search.trials=2"
				grep -Eq '^latency:' "$f" && extra="$extra --set latency.idle=1s"
			fi
			add_job "$name" "$f" "$flags $extra"
		done
	fi
	# Each file's run is stopped (SIGTERM, then wgbench undoes its
	# changes) after REHEARSAL_JOB_TIMEOUT seconds, so that one file that
	# hangs costs the catalogue its own verdict only; 0 means no limit.
	if [ "$mode" = catalogue ]; then
		echo "${REHEARSAL_JOB_TIMEOUT:-600}" >"$root/etc/wgbench/rehearse/job-timeout"
	else
		echo "${REHEARSAL_JOB_TIMEOUT:-0}" >"$root/etc/wgbench/rehearse/job-timeout"
	fi
	# Every job is checked on the host first: a scenario that does not
	# validate fails here, not after the boot.
	(cd "$repo" && CGO_ENABLED=0 "$GO" build -trimpath -o "$root/bin/wgbench" ./cmd/wgbench)
	while IFS=$'\t' read -r name file flags; do
		eval "\"$root/bin/wgbench\" validate \"$root/etc/wgbench/rehearse/$file\" --set testbed.driver=local --set testbed.inventory= --set testbed.wan.gw1=eth1 --set testbed.wan.gw2=eth2 $flags" >/dev/null ||
			die "$name does not validate with the rehearsal's settings (above)"
	done <"$jobs"
fi
iperf=$(command -v iperf3)
cp "$iperf" "$root/usr/bin/iperf3"
cp "$wg" "$root/usr/bin/wg"
# openvpn, when the host has it (README: apt-get install openvpn), so that
# the openvpn baseline (scenarios/vpn-compare.yaml) runs in the guest too.
bins=("$iperf" "$wg")
if ovpn=$(command -v openvpn); then
	mkdir -p "$root/usr/sbin"
	cp "$ovpn" "$root/usr/sbin/openvpn"
	bins+=("$ovpn")
fi
for lib in $(ldd "${bins[@]}" | awk '/=>/ {print $3} /^\t\// {print $1}' | sort -u); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initramfs.cpio.gz")
log "initramfs $(du -h "$work/initramfs.cpio.gz" | cut -f1) after $(( $(date +%s) - t0 )) s"

# 4. boot
if [ "$mode" = test ]; then
	machine=(-smp 2 -m 1024 -netdev user,id=wan0,restrict=on -device e1000e,netdev=wan0)
	shape="2 CPUs, 1 GiB"
else
	# The papers' gateway, small: node 0 has CPUs 0-1 and the control NIC
	# (QEMU's user network, the default route) behind a PCIe expander
	# bridge with numa_node=0; node 1 has CPUs 2-3 and two e1000e data
	# ports (MSI-X) behind one with numa_node=1, cabled to each other
	# through a hub (QEMU warns that the hub has no host network: it is
	# the cable between the two ports only).
	machine=(-machine q35 -smp 4,sockets=2,cores=2,threads=1 -m 1024
		-object memory-backend-ram,id=mem0,size=512M -object memory-backend-ram,id=mem1,size=512M
		-numa node,nodeid=0,cpus=0-1,memdev=mem0 -numa node,nodeid=1,cpus=2-3,memdev=mem1
		-device pxb-pcie,id=pxb0,bus_nr=64,numa_node=0,bus=pcie.0
		-device pcie-root-port,id=rp0,bus=pxb0,chassis=3,slot=0
		-netdev user,id=ctl,restrict=on -device e1000e,netdev=ctl,mac=52:54:00:00:00:01,bus=rp0
		-device pxb-pcie,id=pxb1,bus_nr=128,numa_node=1,bus=pcie.0
		-device pcie-root-port,id=rp1,bus=pxb1,chassis=1,slot=1
		-device pcie-root-port,id=rp2,bus=pxb1,chassis=2,slot=2
		-netdev hubport,id=data1,hubid=1 -netdev hubport,id=data2,hubid=1
		-device e1000e,netdev=data1,mac=52:54:00:00:01:01,bus=rp1
		-device e1000e,netdev=data2,mac=52:54:00:00:01:02,bus=rp2)
	shape="4 CPUs in 2 NUMA nodes, 1 GiB, control NIC on node 0, 2 data ports on node 1"
fi
# The results port: the guest writes its run folders (tar.gz) to the
# virtio port named wgbench.results, QEMU into $work/results.tgz.
results=$work/results.tgz
rm -f "$results"
# On q35 it sits on the root bus, pcie.0: QEMU would pick the last
# expander bridge, which takes only bridges.
vbus=
[ "$mode" = test ] || vbus=,bus=pcie.0
machine+=(-device "virtio-serial-pci$vbus" -chardev "file,id=results,path=$results"
	-device virtserialport,chardev=results,name=wgbench.results)
log "booting under QEMU (TCG, $shape; at most ${timeout_s} s); console: $work/console.log"
tb=$(date +%s)
set +e
# --foreground keeps QEMU in our process group, so that Ctrl-C (or a
# signal to the group) stops it too; without it timeout makes a group of
# its own and QEMU ran on after make was interrupted.
timeout --foreground --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max "${machine[@]}" \
	-kernel "$kdir/vmlinuz" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init" \
	-display none -vga none -monitor none -serial "file:$work/console.log" -no-reboot </dev/null
qrc=$?
set -e
guest_s=$(( $(date +%s) - tb ))
log "guest ran $guest_s s (QEMU exit $qrc$([ $qrc = 124 ] && echo ': timed out'))"

# 5. verdict
console=$work/console.log
tr -d '\r' <"$console" >"$console.txt" && mv "$console.txt" "$console"
# guest_results DIR unpacks the guest's run folders into DIR: from the
# results port when the guest says it wrote them there and the file has
# all of it, else from the base64 block on the console.
guest_results() {
	local size
	size=$(sed -n 's/^=== wgbench-guest: results on the virtio port (\([0-9]*\) bytes)$/\1/p' "$console" | tail -1)
	if [ -n "$size" ]; then
		if [ -f "$results" ] && [ "$(stat -c %s "$results")" = "$size" ]; then
			tar -xzf "$results" -C "$1"
			return
		fi
		echo "$me: the results port has $(stat -c %s "$results" 2>/dev/null || echo no) bytes of the guest's $size" >&2
		return 1
	fi
	sed -n '/^=== wgbench-guest: results begin$/,/^=== wgbench-guest: results end$/p' "$console" | sed '1d;$d' |
		base64 -d 2>/dev/null | tar -xzf - -C "$1" 2>/dev/null
}
if [ "$mode" != test ]; then
	. "$here/rehearse-verdict.sh"
	exit $?
fi
grep -aE '^(--- (PASS|FAIL|SKIP)|wgbench-guest:|WGBENCH-GUEST-VERDICT|OK       |Warning: )' "$console" || true
show_tail() {
	echo "--- $console, results block left out:"
	sed '/^=== wgbench-guest: results begin$/,/^=== wgbench-guest: results end$/d' "$console" | tail -n 80
}
verdict=$(grep -a '^WGBENCH-GUEST-VERDICT:' "$console" | tail -1 | awk '{print $2}')
[ -n "$verdict" ] || { show_tail; die "the guest gave no verdict (crashed or timed out); see $console"; }
failed=0
for t in "${tests[@]}"; do
	grep -aq -- "^--- PASS: $t " "$console" || { echo "test-kernel: $t did not pass in the guest" >&2; failed=1; }
done
for line in 'OK       datapath kernel can run' 'OK       WireGuard module loaded' 'Warning: stock WireGuard module'; do
	grep -aq -- "^$line" "$console" || { echo "test-kernel: wgbench doctor in the guest did not say: $line" >&2; failed=1; }
done
mkdir -p "$work/run"
guest_results "$work" || { echo "test-kernel: no run folder came out of the guest" >&2; failed=1; }
if [ -f "$work/run/run.json" ]; then
	(cd "$repo" && "$GO" run ./test/kernel/checkrun "$work/run" kernel kernel-threaded kernel-emulated-inline:threaded_napi,napi_cpus) || failed=1
fi
if [ "$verdict" != PASS ] || [ $failed != 0 ]; then
	show_tail
	die "guest verdict $verdict; see $console"
fi
log "PASS in $(( $(date +%s) - t0 )) s"
