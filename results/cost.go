package results

import "math"

// Cost stages: where the gateways' CPU went, in the order figures stack
// them. Package probes/cost maps the probes' thread stages onto these.
const (
	// CostSoftirq is softirq work: NET_RX and NET_TX processing outside
	// the NAPI threads (ksoftirqd, or softirq time on the gateway cores).
	CostSoftirq = "softirq"
	// CostNAPI is the threaded-NAPI kernel threads.
	CostNAPI = "napi"
	// CostCrypto is the crypto workers (kernel WireGuard's wg-crypt
	// workqueue).
	CostCrypto = "crypto"
	// CostDatapath is the userspace datapath's threads (inline,
	// wireguard-go).
	CostDatapath = "datapath"
	// CostTUN is threads named for TUN I/O; a datapath that reads and
	// writes its TUN device in its data threads counts that as datapath.
	CostTUN = "tun-io"
	// CostOther is the rest of the gateways' CPU, traffic generators and
	// wgbench's own agents (the samplers) left out.
	CostOther = "other"
)

// CostStages lists the cost stages in stacking order.
var CostStages = []string{CostSoftirq, CostNAPI, CostCrypto, CostDatapath, CostTUN, CostOther}

// Clock sources, as recorded in Clock.Source.
const (
	// ClockBase is the cpufreq base frequency (base_frequency).
	ClockBase = "base"
	// ClockNominal is the nominal frequency: the "@ x GHz" of the CPU
	// model name, else the "cpu MHz" /proc/cpuinfo reports (on a VM
	// without cpufreq, the frequency the hypervisor advertises).
	ClockNominal = "nominal"
)

// Clock is the frequency CPU time is turned into cycles with.
type Clock struct {
	// Hz is the frequency in cycles per second.
	Hz float64 `json:"hz"`
	// Source is ClockBase or ClockNominal.
	Source string `json:"source"`
	// From says where the figure was read (a file and field).
	From string `json:"from,omitempty"`
}

// Cost attribution methods, as recorded in RepCost.Method.
const (
	// ByThread sums the gateways' own threads (and the kernel threads of
	// their devices, each counted once): the only fair split on a shared
	// machine, where per-core figures mix hosts.
	ByThread = "thread"
	// ByCore takes the gateway's busy core time, softirq from the
	// per-core counters and the rest split by thread.
	ByCore = "core"
)

// RepCost is what one repetition cost both gateways.
type RepCost struct {
	// Method is ByThread or ByCore.
	Method string `json:"method"`
	// WindowSeconds is the measured window the CPU time covers.
	WindowSeconds float64 `json:"window_seconds"`
	// CPUSeconds is the gateways' CPU time over the window, both together.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Stages splits CPUSeconds by cost stage.
	Stages []StageCost `json:"stages"`
	// Bytes is the payload delivered in the window; Packets is Bytes over
	// PayloadPerPacket, the payload one packet carries.
	Bytes            uint64  `json:"bytes"`
	Packets          float64 `json:"packets"`
	PayloadPerPacket int     `json:"payload_per_packet"`
	// CyclesPerByte and CyclesPerPacket are CPUSeconds in cycles of the
	// run's clock per byte and per packet.
	CyclesPerByte   float64 `json:"cycles_per_byte"`
	CyclesPerPacket float64 `json:"cycles_per_packet"`
	// GWCores is the mean number of gateway cores busy (CPUSeconds over
	// WindowSeconds).
	GWCores float64 `json:"gw_cores"`
}

// StageCost is one cost stage's share.
type StageCost struct {
	Stage      string  `json:"stage"`
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// CyclesPerByte is the stage's cycles per payload byte.
	CyclesPerByte float64 `json:"cycles_per_byte"`
}

// PointCost summarises the cost of a point's successful repetitions that
// have one: means, and the 95 % CI of the mean cycles per byte.
type PointCost struct {
	N                 int         `json:"n"`
	Method            string      `json:"method"`
	CyclesPerByte     float64     `json:"cycles_per_byte"`
	CyclesPerByteCI95 float64     `json:"cycles_per_byte_ci95"`
	CyclesPerPacket   float64     `json:"cycles_per_packet"`
	GWCores           float64     `json:"gw_cores"`
	Stages            []StageCost `json:"stages"`
}

// NewRepCost fills the per-byte figures of a repetition's cost from CPU
// seconds per stage (indexed like CostStages), the window, the payload and
// the clock.
func NewRepCost(method string, window float64, stageSeconds []float64, bytes uint64, payloadPerPacket int, clock Clock) RepCost {
	c := RepCost{Method: method, WindowSeconds: window, Bytes: bytes, PayloadPerPacket: payloadPerPacket}
	perByte := func(sec float64) float64 {
		if bytes == 0 {
			return 0
		}
		return sec * clock.Hz / float64(bytes)
	}
	for i, st := range CostStages {
		var sec float64
		if i < len(stageSeconds) {
			sec = stageSeconds[i]
		}
		c.CPUSeconds += sec
		c.Stages = append(c.Stages, StageCost{Stage: st, CPUSeconds: sec, CyclesPerByte: perByte(sec)})
	}
	c.CyclesPerByte = perByte(c.CPUSeconds)
	if payloadPerPacket > 0 {
		c.Packets = float64(bytes) / float64(payloadPerPacket)
		c.CyclesPerPacket = c.CyclesPerByte * float64(payloadPerPacket)
	}
	if window > 0 {
		c.GWCores = c.CPUSeconds / window
	}
	return c
}

// summarizeCost averages the costs of the successful repetitions of p; nil
// when none has one.
func summarizeCost(reps []Repetition) *PointCost {
	var costs []*RepCost
	for i := range reps {
		if reps[i].OK() && reps[i].Cost != nil && reps[i].Cost.Bytes > 0 {
			costs = append(costs, reps[i].Cost)
		}
	}
	if len(costs) == 0 {
		return nil
	}
	pc := &PointCost{N: len(costs), Method: costs[0].Method}
	cpb := make([]float64, 0, len(costs))
	stage := make([]float64, len(CostStages))
	for _, c := range costs {
		cpb = append(cpb, c.CyclesPerByte)
		pc.CyclesPerPacket += c.CyclesPerPacket
		pc.GWCores += c.GWCores
		for _, s := range c.Stages {
			for i, name := range CostStages {
				if s.Stage == name {
					stage[i] += s.CyclesPerByte
				}
			}
		}
	}
	n := float64(len(costs))
	s := Summarize(cpb)
	pc.CyclesPerByte, pc.CyclesPerByteCI95 = s.MeanGbps, s.CI95Gbps
	pc.CyclesPerPacket /= n
	pc.GWCores /= n
	for i, name := range CostStages {
		pc.Stages = append(pc.Stages, StageCost{Stage: name, CyclesPerByte: stage[i] / n})
	}
	if math.IsNaN(pc.CyclesPerByte) {
		return nil
	}
	return pc
}
