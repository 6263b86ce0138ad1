"""wgbench: the four-machine testbed of the HPSR 2025 WireGuard paper.

Four bare-metal machines in a chain, as in the paper's Fig. 3:

    source --lan1-- gw1 ==wan== gw2 --lan2-- drain

source sends iperf3 traffic to drain through the two WireGuard gateways.
The links are dedicated experiment links; wgbench puts its own addresses
(198.18.0.0/15) on them, so CloudLab's 10.10.x.x addresses may stay.

The paper's nodes have two Intel Xeon Silver 4314 CPUs (16 cores each) and
a 100 Gb/s Mellanox ConnectX-6 Dx NIC: at CloudLab Wisconsin that is the
sm220u node type, the default here. Any node type with two experiment
interfaces works for a smaller reproduction.

Instructions:
Once the experiment is ready, download its manifest (the "Manifest" tab),
then on your controller:

    wgbench testbed import-cloudlab manifest.xml -o scenarios/cloudlab/hosts.yaml
    wgbench testbed check --accept-new-host-keys scenarios/cloudlab/hosts.yaml

The gateways build the authors' patched WireGuard module (the paper's
ref. [7], https://github.com/MircoBarone/wireguard-linux) at start-up;
testbed check says per gateway whether it is loaded.
    wgbench run scenarios/cloudlab/fig8-multi-tunnel.yaml

See docs/reproduce-cloudlab.md in the wgbench repository.
"""

import geni.portal as portal
import geni.rspec.pg as pg

# The roles and the links between them, in traffic order.
ROLES = ["source", "gw1", "gw2", "drain"]
LINKS = [("lan1", "source", "lan", "gw1", "lan"),
         ("wan", "gw1", "wan", "gw2", "wan"),
         ("lan2", "gw2", "lan", "drain", "lan")]

# The authors' public repository of the patched ("inline") WireGuard
# module, named in the HPSR 2025 paper (ref. [7], M. Barone, "Wireguard
# inline code"). The start-up clones it on the gateways and builds the
# module there; none of its code is part of wgbench.
PATCHED_REPO = "https://github.com/MircoBarone/wireguard-linux"

# Where the start-up leaves its traces on every node.
DONE = "/var/tmp/wgbench-startup-done"
MODULE_LOG = "/var/tmp/wgbench-patched-module.log"
MODULE_STATUS = "/var/tmp/wgbench-patched-module.status"

# What every node runs once it has booted (the nodes reach the internet):
# the tools a run needs; the paper's measurement hygiene when asked for
# (no hyper-threading, no frequency scaling or turbo, no idle state deeper
# than C1, irqbalance stopped so pinned IRQs stay put); and on the
# gateways the patched WireGuard module, built for the running kernel and
# loaded in place of the stock one. A failed build leaves the stock module
# loaded and says why in MODULE_STATUS (wgbench testbed check reports it).
STARTUP = r"""
set -u
export DEBIAN_FRONTEND=noninteractive
apt-get update -q && apt-get install -y -q iperf3 ethtool wireguard-tools numactl linux-tools-common || true
if [ "%(tune)s" = "True" ]; then
  echo off > /sys/devices/system/cpu/smt/control 2>/dev/null || true
  for g in /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do echo performance > "$g" 2>/dev/null || true; done
  # Turbo off: intel_pstate, else the acpi-cpufreq/amd boost switch.
  echo 1 > /sys/devices/system/cpu/intel_pstate/no_turbo 2>/dev/null || true
  echo 0 > /sys/devices/system/cpu/cpufreq/boost 2>/dev/null || true
  # C-states deeper than C1: state0 is POLL, state1 C1.
  for s in /sys/devices/system/cpu/cpu*/cpuidle/state*; do
    n=${s##*state}
    if [ "$n" -ge 2 ] 2>/dev/null; then echo 1 > "$s/disable" 2>/dev/null || true; fi
  done
  systemctl stop irqbalance 2>/dev/null || true
  systemctl disable irqbalance 2>/dev/null || true
fi
"""

# The gateways' part of the start-up, before DONE is touched.
STARTUP_MODULE = r"""
echo "building" > %(status)s
if (
  set -ex
  kver=$(uname -r)
  apt-get install -y -q git build-essential "linux-headers-$kver"
  src=/var/tmp/wgbench-patched-wireguard
  rm -rf "$src"
  git clone --depth 1 --filter=blob:none --sparse %(branch)s "%(repo)s" "$src"
  git -C "$src" sparse-checkout set drivers/net/wireguard
  git -C "$src" log -1 --format="commit %%H %%cd"
  make -C "/lib/modules/$kver/build" M="$src/drivers/net/wireguard" CONFIG_WIREGUARD=m modules
  install -D -m 644 "$src/drivers/net/wireguard/wireguard.ko" "/lib/modules/$kver/updates/wgbench/wireguard.ko"
  depmod -a
  modprobe -r wireguard 2>/dev/null || true
  modprobe wireguard
  # The patched module gives every device inline_en, encrypt_cpumask
  # and decrypt_cpumask (wgbench's kernel datapath looks for them).
  ip link add wgbench-probe type wireguard
  ok=no; [ -e /sys/class/net/wgbench-probe/inline_en ] && ok=yes
  ip link del wgbench-probe
  [ "$ok" = yes ]
) > %(log)s 2>&1; then
  echo "patched module loaded ($(uname -r))" > %(status)s
else
  echo "failed: the patched module did not build or load for kernel $(uname -r); the stock module stays; see %(log)s" > %(status)s
fi
"""

STARTUP_END = r"""
touch %(done)s
"""

pc = portal.Context()
pc.defineParameter(
    "hwtype", "Node type", portal.ParameterType.NODETYPE, "sm220u",
    longDescription="CloudLab node type of all four machines. The paper used dual "
    "Xeon Silver 4314 nodes with ConnectX-6 Dx 100 Gb/s NICs (sm220u at Wisconsin).")
pc.defineParameter(
    "image", "Disk image", portal.ParameterType.IMAGE,
    "urn:publicid:IDN+emulab.net+image+emulab-ops//UBUNTU22-64-STD",
    longDescription="Ubuntu 22.04, as in the paper's era; its kernel has WireGuard.")
pc.defineParameter(
    "bandwidth", "Link bandwidth (Kb/s)", portal.ParameterType.BANDWIDTH, 100000000,
    longDescription="Bandwidth of the three experiment links; 100 Gb/s matches the paper.",
    advanced=True)
pc.defineParameter(
    "tune", "Disable SMT, frequency scaling and deep idle states",
    portal.ParameterType.BOOLEAN, True,
    longDescription="The paper measures with hyper-threading, DVFS and idle states off.",
    advanced=True)
pc.defineParameter(
    "patched", "Build and load the papers' patched WireGuard module on the gateways",
    portal.ParameterType.BOOLEAN, True,
    longDescription="Figures 6 and 7 and the inline series need the authors' patched module "
    "(crypto worker masks, inline mode). The gateways' start-up clones it, builds it for the "
    "running kernel and loads it; " + MODULE_STATUS + " says whether that worked.",
    advanced=True)
pc.defineParameter(
    "patched_repo", "Repository of the patched module", portal.ParameterType.STRING, PATCHED_REPO,
    longDescription="A git URL of a Linux tree with the patched drivers/net/wireguard; "
    "the default is the one the HPSR 2025 paper names (its ref. [7]).",
    advanced=True)
pc.defineParameter(
    "patched_ref", "Branch or tag of the patched module", portal.ParameterType.STRING, "",
    longDescription="Empty: the repository's default branch. Pick one whose kernel "
    "matches the image's (the module is built against the running kernel's headers).",
    advanced=True)
params = pc.bindParameters()

if not params.hwtype.strip():
    pc.reportError(portal.ParameterError("Choose a node type.", ["hwtype"]))
if params.bandwidth <= 0:
    pc.reportError(portal.ParameterError("The bandwidth must be positive.", ["bandwidth"]))
if params.patched and not params.patched_repo.strip():
    pc.reportError(portal.ParameterError("Name the patched module's repository, or turn the build off.", ["patched_repo"]))
for name in ("patched_repo", "patched_ref"):
    if any(c in getattr(params, name) for c in "'\"`$\\ ;&|<>"):
        pc.reportError(portal.ParameterError("No quotes, spaces or shell characters here.", [name]))
pc.verifyParameters()

request = pc.makeRequestRSpec()

nodes = {}
for role in ROLES:
    node = request.RawPC(role)
    node.hardware_type = params.hwtype
    node.disk_image = params.image
    script = STARTUP
    if role in ("gw1", "gw2") and params.patched:
        script += STARTUP_MODULE
    script = (script + STARTUP_END) % {
        "tune": params.tune, "repo": params.patched_repo.strip(),
        "branch": ("--branch " + params.patched_ref.strip()) if params.patched_ref.strip() else "",
        "log": MODULE_LOG, "status": MODULE_STATUS, "done": DONE}
    node.addService(pg.Execute(shell="bash", command="sudo bash -c '%s'" % script.replace("'", "'\\''")))
    nodes[role] = node

for name, a, a_if, b, b_if in LINKS:
    link = request.Link(name)
    link.addInterface(nodes[a].addInterface(a_if))
    link.addInterface(nodes[b].addInterface(b_if))
    link.bandwidth = params.bandwidth

pc.printRequestRSpec(request)
