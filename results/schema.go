// Package results is the schema every stage after a run reads: the run
// folder on disk (run.json, points.csv and the raw iperf3 logs), written as
// each repetition ends so an interrupted run keeps what it measured, and the
// statistics of repeated measurements.
//
// It knows nothing of hosts: runner fills it, plots, report and tuner read it.
package results

import (
	"time"

	"github.com/wgbench/wgbench/scenarios"
)

// SchemaVersion is the version of the run.json layout. Readers refuse a
// newer major version than they know.
const SchemaVersion = 1

// Run status values.
const (
	StatusRunning     = "running"
	StatusComplete    = "complete"
	StatusInterrupted = "interrupted"
	StatusFailed      = "failed"
)

// Run is the content of run.json.
type Run struct {
	// Schema is SchemaVersion at the time of writing.
	Schema int `json:"schema"`
	// Tool is the wgbench version that made the run.
	Tool string `json:"wgbench_version"`
	// Status is one of the Status* constants.
	Status string `json:"status"`
	// Error says why a failed or interrupted run stopped.
	Error string `json:"error,omitempty"`
	// Started and Finished bracket the run.
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// Resumed lists when an interrupted or failed run was continued.
	Resumed []time.Time `json:"resumed,omitempty"`
	// ScenarioFile is the path the scenario was read from.
	ScenarioFile string `json:"scenario_file,omitempty"`
	// Overrides are the --set arguments applied to it.
	Overrides []string `json:"overrides,omitempty"`
	// Scenario is the scenario as run (defaults and overrides applied).
	Scenario scenarios.Scenario `json:"scenario"`
	// Testbed describes the hosts the run used.
	Testbed TestbedInfo `json:"testbed"`
	// Hosts holds the facts of every host, by role (source, gw1, gw2,
	// drain) and "controller".
	Hosts map[string]HostFacts `json:"hosts"`
	// Series says, per scenario series, whether it ran or why not.
	Series []SeriesStatus `json:"series"`
	// Points holds the measurements, in the order they were taken.
	Points []Point `json:"points"`
	// Clock is the frequency the gateways' CPU time was turned into
	// cycles with (each point's cost), and which one it is.
	Clock *Clock `json:"clock,omitempty"`
}

// TestbedInfo describes the testbed of a run.
type TestbedInfo struct {
	// Driver is "local" or "ssh".
	Driver string `json:"driver"`
	// Tag is the per-run tag in namespace and interface names.
	Tag string `json:"tag,omitempty"`
	// SharedCores is true when several hosts share one machine's cores
	// (the local testbed): per-core figures then mix hosts, and attribution
	// is by thread and namespace.
	SharedCores bool `json:"shared_cores"`
	// Addressing summarises the plan: LAN, WAN and per-flow prefixes.
	Addressing map[string]string `json:"addressing,omitempty"`
}

// HostFacts records what a host is, so results can be compared fairly.
type HostFacts struct {
	Machine
	// AllowedCPUs are the CPUs ("0-15") wgbench's processes were confined
	// to on the host (the SSH inventory's cores); empty means all.
	AllowedCPUs string `json:"allowed_cpus,omitempty"`
}

// Machine is what a host is: its name, kernel and processors and the
// versions of what wgbench runs there. The facts probe (probes/facts.Host)
// embeds it too, so its JSON reads as a HostFacts.
type Machine struct {
	Hostname  string `json:"hostname,omitempty"`
	Kernel    string `json:"kernel,omitempty"`
	CPUModel  string `json:"cpu_model,omitempty"`
	Cores     int    `json:"cores,omitempty"`
	NUMANodes int    `json:"numa_nodes,omitempty"`
	Iperf3    string `json:"iperf3,omitempty"`
	Wgbench   string `json:"wgbench,omitempty"`
	WireGuard string `json:"wireguard_module,omitempty"`
	// Notes say what could not be read and what was assumed.
	Notes []string `json:"notes,omitempty"`
}

// SeriesStatus says whether a series ran and, if not, why.
type SeriesStatus struct {
	Name     string             `json:"name"`
	Datapath scenarios.Datapath `json:"datapath"`
	// Skipped holds the reason a series was not run on this testbed.
	Skipped string `json:"skipped,omitempty"`
	// Tuning is the tuning each gateway runs, by role ("gw1", "gw2"):
	// the series' shared knobs with that gateway's block applied. Empty
	// for a series without tuning.
	Tuning map[string]scenarios.Tuning `json:"tuning,omitempty"`
}

// Point is the measurement of one series at one sweep point.
type Point struct {
	Series         string             `json:"series"`
	Datapath       scenarios.Datapath `json:"datapath"`
	Tunnels        int                `json:"tunnels"`
	FlowsPerTunnel int                `json:"flows_per_tunnel"`
	// PacketSize is the inner IP packet size swept (sweep.packet_size),
	// 0 when not swept.
	PacketSize int `json:"packet_size,omitempty"`
	// MTU is the link MTU swept (sweep.mtu), 0 when not swept.
	MTU int `json:"mtu,omitempty"`
	// Setup is how long bringing the datapath up took.
	SetupSeconds float64 `json:"setup_seconds"`
	// Repetitions holds one entry per measured repetition, failed ones
	// included.
	Repetitions []Repetition `json:"repetitions"`
	// Summary aggregates the successful repetitions.
	Summary Summary `json:"summary"`
	// Complete is true when every repetition of the point was attempted.
	Complete bool `json:"complete"`
	// Notes records knobs skipped or adjusted for this point.
	Notes []string `json:"notes,omitempty"`
	// Cost is what the point cost the gateways per byte and per packet,
	// split by stage, over its repetitions.
	Cost *PointCost `json:"cost,omitempty"`
	// Knobs are the host settings the datapath changed for this point,
	// with their values before and after; each was restored when the
	// point ended.
	Knobs []KnobChange `json:"knobs,omitempty"`
}

// Repetition is one measurement of a point.
type Repetition struct {
	Index   int       `json:"index"`
	Started time.Time `json:"started"`
	// Seconds is the measured interval (iperf3's, without the warm-up).
	Seconds float64 `json:"seconds"`
	// Flows has one entry per iperf3 flow.
	Flows []Flow `json:"flows"`
	// Tunnels has the datapath counters per tunnel over the repetition.
	Tunnels []TunnelCounters `json:"tunnels,omitempty"`
	// AggregateBps is the sum of the flows' goodput in bits per second.
	AggregateBps float64 `json:"aggregate_bps"`
	// CPU summarises each gateway's cores over the measured window; the
	// samples are in the repetition's raw folder (trace-<host>.jsonl,
	// cpu.csv, stages.csv).
	CPU []HostCPU `json:"cpu,omitempty"`
	// Findings are the black-hole detector's conclusions.
	Findings []Finding `json:"findings,omitempty"`
	// Cost is the gateways' CPU over the measured window, per byte and
	// per packet, split by stage; nil without CPU samples.
	Cost *RepCost `json:"cost,omitempty"`
	// LossPct is the UDP datagrams lost over all flows, in percent; 0 for
	// TCP.
	LossPct float64 `json:"loss_pct,omitempty"`
	// Trials are the rate search's trials, in the order run; the
	// repetition's flows and figures are those of the highest passing
	// one.
	Trials []Trial `json:"trials,omitempty"`
	// Latency is the latency probe's outcome, when the scenario has one.
	Latency *RepLatency `json:"latency,omitempty"`
	// Error says why the repetition failed; empty when it succeeded.
	Error string `json:"error,omitempty"`
}

// OK reports whether the repetition succeeded.
func (r Repetition) OK() bool { return r.Error == "" }

// Flow is one iperf3 client/server pair.
type Flow struct {
	Tunnel int    `json:"tunnel"`
	Index  int    `json:"flow"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	Port   int    `json:"port"`
	// Bps is the goodput measured at the receiver (sum_received), bits/s.
	Bps float64 `json:"bps"`
	// Bytes is the payload the receiver got.
	Bytes uint64 `json:"bytes"`
	// SentBytes is the payload the sender sent.
	SentBytes   uint64  `json:"sent_bytes"`
	Retransmits int     `json:"retransmits,omitempty"`
	LostPercent float64 `json:"lost_percent,omitempty"`
	JitterMs    float64 `json:"jitter_ms,omitempty"`
	// RTTMeanMs and RTTMaxMs are the TCP sender's smoothed round-trip
	// time, mean and maximum, as iperf3 reports them; 0 for UDP.
	RTTMeanMs float64 `json:"rtt_mean_ms,omitempty"`
	RTTMaxMs  float64 `json:"rtt_max_ms,omitempty"`
	// Attempts is how many times the pair was run (a failed pair is
	// retried once).
	Attempts int `json:"attempts"`
	// Error says why the flow failed, empty when it moved data.
	Error string `json:"error,omitempty"`
	// Log is the iperf3 JSON log, relative to the run folder.
	Log string `json:"log,omitempty"`
}

// TunnelCounters are a tunnel's datapath byte counters over a repetition
// (the difference between after and before), as read through wgctrl.
type TunnelCounters struct {
	Index      int    `json:"tunnel"`
	Device     string `json:"device,omitempty"`
	GW1TxBytes uint64 `json:"gw1_tx_bytes"`
	GW1RxBytes uint64 `json:"gw1_rx_bytes"`
	GW2TxBytes uint64 `json:"gw2_tx_bytes"`
	GW2RxBytes uint64 `json:"gw2_rx_bytes"`
	// GW1Mode and GW2Mode are the inline engine's mode on each gateway
	// and its switches during the repetition; absent for other engines.
	GW1Mode *TunnelMode `json:"gw1_mode,omitempty"`
	GW2Mode *TunnelMode `json:"gw2_mode,omitempty"`
}

// TunnelMode is an inline engine tunnel's mode over a repetition.
type TunnelMode struct {
	// Mode is the configured mode (inline or hybrid); Active the one it
	// ran in at the end of the repetition.
	Mode   string `json:"mode"`
	Active string `json:"active"`
	// Changes counts its switches during the repetition; Log has them
	// (the latest 64 at most).
	Changes uint64       `json:"changes"`
	Log     []ModeChange `json:"log,omitempty"`
}

// ModeChange is one switch of a hybrid tunnel.
type ModeChange struct {
	At time.Time `json:"at"`
	// To is the mode it switched to; Cores the cores it borrowed from
	// then on (a CPU list, empty when back to inline).
	To    string `json:"to"`
	Cores string `json:"cores,omitempty"`
}

// Summary holds statistics of a point's aggregate throughput over its
// successful repetitions, in Gbit/s.
type Summary struct {
	N        int     `json:"n"`
	MeanGbps float64 `json:"mean_gbps"`
	// StddevGbps is the sample standard deviation (n-1).
	StddevGbps float64 `json:"stddev_gbps"`
	// CI95Gbps is the half-width of the 95 % confidence interval of the
	// mean (Student's t), 0 when n < 2.
	CI95Gbps float64 `json:"ci95_gbps"`
	MinGbps  float64 `json:"min_gbps"`
	MaxGbps  float64 `json:"max_gbps"`
}

// Finding is what the black-hole detector concluded about one gateway in
// one repetition: a saturated core and what fills it, with the evidence.
type Finding struct {
	// Host is the gateway (gw1, gw2).
	Host string `json:"host"`
	// Kind is "black-hole", "single-core-bottleneck", "hot-core" or
	// "cpu-bound".
	Kind string `json:"kind"`
	// Core is the saturated core; Cores lists all of them for host-wide
	// findings.
	Core  int   `json:"core"`
	Cores []int `json:"cores,omitempty"`
	// BusyMean is the core's mean busy percentage over the window.
	BusyMean float64 `json:"busy_mean"`
	// SoftirqShare is the share (0..1) of its busy time spent in softirq.
	SoftirqShare float64 `json:"softirq_share"`
	// SaturatedShare is the share (0..1) of the window it was saturated.
	SaturatedShare float64 `json:"saturated_share"`
	// HostIdle is the idle share (0..1) of the whole host.
	HostIdle float64 `json:"host_idle"`
	// Shared is true when the core is shared with other testbed hosts;
	// OwnPct is then how much of it this host's own threads used.
	Shared bool    `json:"shared,omitempty"`
	OwnPct float64 `json:"own_pct,omitempty"`
	// Stages are the stages (and tunnels) seen on the core, busiest first.
	Stages []StageShare `json:"stages,omitempty"`
	// Summary is the one-line verdict with its numbers.
	Summary string `json:"summary"`
}

// StageShare is the CPU a stage used on a core.
type StageShare struct {
	Stage string  `json:"stage"`
	Dev   string  `json:"dev,omitempty"`
	Pct   float64 `json:"pct"`
}

// HostCPU summarises a gateway's per-core load over a repetition's
// measured window.
type HostCPU struct {
	Host string `json:"host"`
	// TraceStart is when the host's CPU trace starts: the origin of its
	// samples' times (cpu.csv t_seconds), to place events such as mode
	// switches on them. Zero in runs from before it was recorded.
	TraceStart time.Time `json:"trace_start,omitzero"`
	// MeanBusy is the mean busy percentage over all cores.
	MeanBusy float64 `json:"mean_busy"`
	// Cores holds each core's mean load, in percent.
	Cores []CoreLoad `json:"cores"`
	// Samples is how many samples the window held.
	Samples int `json:"samples"`
}

// CoreLoad is one core's mean load in percent.
type CoreLoad struct {
	Core    int     `json:"core"`
	Busy    float64 `json:"busy"`
	User    float64 `json:"user"`
	System  float64 `json:"system"`
	Softirq float64 `json:"softirq"`
}

// KnobChange is one host setting a datapath changed.
type KnobChange struct {
	Host   string `json:"host"`
	Knob   string `json:"knob"`
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
}
