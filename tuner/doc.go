// Package tuner turns host facts and measured runs into ranked,
// evidence-backed tuning suggestions for WireGuard gateways, with the
// commands that apply and undo them, a tuned scenario that verifies them
// by measurement, and the A/B comparison of such a verification run.
//
// Every rule is grounded in one of the papers in ../shared/papers (its
// Source names the file and section) and every suggestion carries the
// evidence that triggered it — facts of the host (sysfs and procfs
// values) or numbers measured in a run (findings of the black-hole
// detector, per-core load, throughput with its 95 % confidence interval)
// — and the effect the source reports. The numbers an effect quotes from
// the HPSR 2025 paper (+31 %, 12 tunnels, …) are read from its data in
// results/paper by claim ID, as `wgbench compare --paper` reads them. The
// rules are:
//
//	multi-tunnel         one tunnel's receive core on gw2 is the bottleneck
//	threaded-napi        a black hole, or several tunnels on softirq NAPI
//	numa-local           NIC on one NUMA node, IRQs/NAPI/crypto on others
//	decrypt-off-rx-core  decryption shares the tunnel-receiving core
//	inline               many tunnels and flows: the inline architecture
//	vanilla-threaded     few tunnels (elephant flows): vanilla + threaded
//	mtu                  tunnel MTU too close to (or above) the link's
//	offloads             GRO, GSO, UDP GRO forwarding off
//	rss-collisions       tunnels likely to share a receive queue
//	governor             CPU frequency scaling during benchmarks
//	idle-states          deep C-states during benchmarks
//	smt                  hyper-threading during benchmarks
//	irqbalance           irqbalance overriding pinned IRQs
//
// The NIC-level rules (numa-local, rss-collisions, mtu, decrypt-off-rx-core)
// look at the tunnels' NIC: the link of the route to the WireGuard peers'
// endpoints (facts.ChooseUnderlay); from a run folder, whose facts were
// read before any tunnel was up, the WAN the testbed used (the route to
// run.json's WAN subnet, or the local testbed's "wan" port); only when
// none is known, the fastest physical port that is up. An "underlay" Info
// line says which link was chosen and why.
//
// Each check also yields an "OK" line when it holds, and an "Info" line
// when the facts to decide are missing, so a report says what was checked
// and what could not be.
//
// The package reads results and host facts and never drives a host:
// commands are printed (or written to a reviewed script), never run, and
// verification runs are started by cmd/wgbench with the runner.
package tuner
