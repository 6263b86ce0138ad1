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

# What every node runs once it has booted: the tools a run needs, and the
# paper's measurement hygiene (no hyper-threading, no frequency scaling,
# no deep idle states) when asked for.
STARTUP = r"""
set -u
export DEBIAN_FRONTEND=noninteractive
apt-get update -q && apt-get install -y -q iperf3 ethtool wireguard-tools numactl linux-tools-common || true
if [ "%(tune)s" = "True" ]; then
  echo off > /sys/devices/system/cpu/smt/control 2>/dev/null || true
  for g in /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do echo performance > "$g" 2>/dev/null || true; done
  for s in /sys/devices/system/cpu/cpu*/cpuidle/state[2-9]/disable; do echo 1 > "$s" 2>/dev/null || true; done
fi
touch /var/tmp/wgbench-startup-done
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
params = pc.bindParameters()

if not params.hwtype.strip():
    pc.reportError(portal.ParameterError("Choose a node type.", ["hwtype"]))
if params.bandwidth <= 0:
    pc.reportError(portal.ParameterError("The bandwidth must be positive.", ["bandwidth"]))
pc.verifyParameters()

request = pc.makeRequestRSpec()

nodes = {}
for role in ROLES:
    node = request.RawPC(role)
    node.hardware_type = params.hwtype
    node.disk_image = params.image
    node.addService(pg.Execute(shell="bash", command="sudo bash -c '%s'" % (
        STARTUP % {"tune": params.tune}).replace("'", "'\\''")))
    nodes[role] = node

for name, a, a_if, b, b_if in LINKS:
    link = request.Link(name)
    link.addInterface(nodes[a].addInterface(a_if))
    link.addInterface(nodes[b].addInterface(b_if))
    link.bandwidth = params.bandwidth

pc.printRequestRSpec(request)
