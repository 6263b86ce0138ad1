package results

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/scenarios"
)

// PointsHeader is the header row of points.csv.
var PointsHeader = []string{
	"series", "datapath", "tunnels", "flows_per_tunnel", "flows",
	"repetitions", "ok", "mean_gbps", "stddev_gbps", "ci95_gbps",
	"min_gbps", "max_gbps",
	"cycles_per_byte", "cycles_per_packet", "gw_cores",
	"rtt_idle_p50_ms", "rtt_p50_ms", "rtt_p90_ms", "rtt_p99_ms", "rtt_max_ms", "rtt_loss_pct",
	"packet_size", "mpps", "loss_pct",
	"mtu",
}

// CSVRow is one row of points.csv: a Point without its repetitions.
type CSVRow struct {
	Series         string
	Datapath       scenarios.Datapath
	Tunnels        int
	FlowsPerTunnel int
	// Flows is Tunnels × FlowsPerTunnel.
	Flows int
	// Repetitions counts the repetitions measured, failed ones included.
	Repetitions int
	// OK counts the successful repetitions.
	OK         int
	MeanGbps   float64
	StddevGbps float64
	CI95Gbps   float64
	MinGbps    float64
	MaxGbps    float64
	// CyclesPerByte and CyclesPerPacket are the gateways' mean cost (both
	// together) per payload byte and packet; GWCores is the mean number of
	// gateway cores busy. All three are 0 when the point has no CPU
	// samples.
	CyclesPerByte   float64
	CyclesPerPacket float64
	GWCores         float64
	// RTTIdleP50Ms is the latency probe's median round trip before the
	// load; RTTP50Ms..RTTLossPct are the probe's during the measured
	// window (means over the repetitions, the largest maximum). All are
	// 0 without a latency probe.
	RTTIdleP50Ms float64
	RTTP50Ms     float64
	RTTP90Ms     float64
	RTTP99Ms     float64
	RTTMaxMs     float64
	RTTLossPct   float64
	// PacketSize is the swept inner IP packet size, 0 when not swept;
	// Mpps the mean goodput in millions of such packets per second (0
	// without a size); LossPct the mean UDP loss in percent.
	PacketSize int
	Mpps       float64
	LossPct    float64
	// MTU is the swept link MTU, 0 when not swept.
	MTU int
}

// Row returns the points.csv row of p. Its statistics are p.Summary as
// stored; call Resummarize first to bring them up to date.
func (p *Point) Row() CSVRow {
	r := CSVRow{
		Series:         p.Series,
		Datapath:       p.Datapath,
		Tunnels:        p.Tunnels,
		FlowsPerTunnel: p.FlowsPerTunnel,
		Flows:          p.Tunnels * p.FlowsPerTunnel,
		Repetitions:    len(p.Repetitions),
		OK:             p.OKRepetitions(),
		MeanGbps:       p.Summary.MeanGbps,
		StddevGbps:     p.Summary.StddevGbps,
		CI95Gbps:       p.Summary.CI95Gbps,
		MinGbps:        p.Summary.MinGbps,
		MaxGbps:        p.Summary.MaxGbps,
	}
	if p.Cost != nil {
		r.CyclesPerByte, r.CyclesPerPacket, r.GWCores = p.Cost.CyclesPerByte, p.Cost.CyclesPerPacket, p.Cost.GWCores
	}
	r.PacketSize, r.MTU = p.PacketSize, p.MTU
	r.Mpps = PacketRate(p.Summary.MeanGbps*1e9, p.PacketSize) / 1e6
	if n := p.OKRepetitions(); n > 0 {
		for _, rp := range p.Repetitions {
			if rp.OK() {
				r.LossPct += rp.LossPct / float64(n)
			}
		}
	}
	if l := p.Latency(); l != nil {
		r.RTTIdleP50Ms, r.RTTP50Ms, r.RTTP90Ms, r.RTTP99Ms, r.RTTMaxMs, r.RTTLossPct = l.IdleP50Ms, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, l.LossPct
	}
	return r
}

// WritePointsCSV writes points in the points.csv format: PointsHeader, then
// one row per point in order. Numbers are written in the shortest form
// that reads back to the same value.
func WritePointsCSV(w io.Writer, points []Point) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(PointsHeader); err != nil {
		return fmt.Errorf("write points csv: %w", err)
	}
	for i := range points {
		r := points[i].Row()
		rec := []string{
			r.Series, string(r.Datapath),
			strconv.Itoa(r.Tunnels), strconv.Itoa(r.FlowsPerTunnel), strconv.Itoa(r.Flows),
			strconv.Itoa(r.Repetitions), strconv.Itoa(r.OK),
			formatFloat(r.MeanGbps), formatFloat(r.StddevGbps), formatFloat(r.CI95Gbps),
			formatFloat(r.MinGbps), formatFloat(r.MaxGbps),
			formatFloat(r.CyclesPerByte), formatFloat(r.CyclesPerPacket), formatFloat(r.GWCores),
			formatFloat(r.RTTIdleP50Ms), formatFloat(r.RTTP50Ms), formatFloat(r.RTTP90Ms),
			formatFloat(r.RTTP99Ms), formatFloat(r.RTTMaxMs), formatFloat(r.RTTLossPct),
			strconv.Itoa(r.PacketSize), formatFloat(r.Mpps), formatFloat(r.LossPct),
			strconv.Itoa(r.MTU),
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write points csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write points csv: %w", err)
	}
	return nil
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// legacyColumns are the column counts points.csv had before its latest
// columns (12: before the cost columns; 15: before the latency columns;
// 21: before the packet-size columns; 24: before mtu); such files still
// read, with the missing columns 0.
var legacyColumns = []int{12, 15, 21, 24}

// ReadPointsCSV reads rows in the points.csv format. The header must be
// PointsHeader, or its first columns as an earlier version wrote them
// (legacyColumns); errors name the line and column at fault.
func ReadPointsCSV(r io.Reader) ([]CSVRow, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("points csv: empty, expected a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("points csv: %w", err)
	}
	known := strings.Join(head, ",") == strings.Join(PointsHeader, ",")
	for _, n := range legacyColumns {
		known = known || strings.Join(head, ",") == strings.Join(PointsHeader[:n], ",")
	}
	if !known {
		return nil, fmt.Errorf("points csv: line 1: header is %q, want %q", strings.Join(head, ","), strings.Join(PointsHeader, ","))
	}
	cr.FieldsPerRecord = len(head)
	var rows []CSVRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("points csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		p := fieldParser{line: line, rec: rec}
		row := CSVRow{
			Series:         rec[0],
			Datapath:       scenarios.Datapath(rec[1]),
			Tunnels:        p.int(2),
			FlowsPerTunnel: p.int(3),
			Flows:          p.int(4),
			Repetitions:    p.int(5),
			OK:             p.int(6),
			MeanGbps:       p.float(7),
			StddevGbps:     p.float(8),
			CI95Gbps:       p.float(9),
			MinGbps:        p.float(10),
			MaxGbps:        p.float(11),
		}
		if len(head) >= 15 {
			row.CyclesPerByte, row.CyclesPerPacket, row.GWCores = p.float(12), p.float(13), p.float(14)
		}
		if len(head) >= 21 {
			row.RTTIdleP50Ms, row.RTTP50Ms, row.RTTP90Ms = p.float(15), p.float(16), p.float(17)
			row.RTTP99Ms, row.RTTMaxMs, row.RTTLossPct = p.float(18), p.float(19), p.float(20)
		}
		if len(head) >= 24 {
			row.PacketSize, row.Mpps, row.LossPct = p.int(21), p.float(22), p.float(23)
		}
		if len(head) >= 25 {
			row.MTU = p.int(24)
		}
		if p.err != nil {
			return nil, p.err
		}
		rows = append(rows, row)
	}
}

// fieldParser converts the fields of one record, keeping the first error.
type fieldParser struct {
	line int
	rec  []string
	err  error
}

func (p *fieldParser) fail(i int, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("points csv: line %d: column %s: %q: %w", p.line, PointsHeader[i], p.rec[i], err)
	}
}

func (p *fieldParser) int(i int) int {
	v, err := strconv.Atoi(p.rec[i])
	if err != nil {
		p.fail(i, errors.New("not an integer"))
	}
	return v
}

func (p *fieldParser) float(i int) float64 {
	v, err := strconv.ParseFloat(p.rec[i], 64)
	if err != nil {
		p.fail(i, errors.New("not a number"))
	}
	return v
}
