package plots

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadCPUCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, tab CPUTable)
	}{
		{
			name: "probes layout",
			in: "host,t_seconds,core,user,system,softirq,irq,iowait,steal,idle,busy,net_rx,net_tx\n" +
				"gw2,0.250,0,1.00,2.00,90.00,0.50,0.00,0.00,6.50,93.50,4000,12\n" +
				"gw2,0.250,1,1.00,2.00,3.00,0.00,0.00,0.00,94.00,6.00,10,0\n",
			check: func(t *testing.T, tab CPUTable) {
				want := CPUSample{Host: "gw2", T: 0.25, Core: 0, User: 1, System: 2, SoftIRQ: 90, IRQ: 0.5, Idle: 6.5, Busy: 93.5, NetRX: 4000, NetTX: 12}
				if len(tab) != 2 || tab[0] != want {
					t.Errorf("got %+v, want first row %+v", tab, want)
				}
			},
		},
		{
			name: "columns reordered, extra column, busy from idle",
			in:   "core,host,extra,softirq,system,user,t_seconds,idle,iowait\n3,gw1,x,10,20,5,1.5,60,5\n",
			check: func(t *testing.T, tab CPUTable) {
				if len(tab) != 1 || tab[0].Core != 3 || tab[0].Host != "gw1" || tab[0].Busy != 35 || tab[0].SoftIRQ != 10 {
					t.Errorf("got %+v", tab)
				}
				if !math.IsNaN(tab[0].IRQ) {
					t.Errorf("absent irq = %g, want NaN", tab[0].IRQ)
				}
			},
		},
		{
			name: "NaN and empty values are missing, not errors",
			in:   "host,t_seconds,core,user,system,softirq,busy\ngw2,1,0,NaN,,5,\ngw2,1,1,1,1,1,Inf\n",
			check: func(t *testing.T, tab CPUTable) {
				if len(tab) != 2 || !math.IsNaN(tab[0].User) || !math.IsNaN(tab[0].System) || !math.IsNaN(tab[0].Busy) || !math.IsNaN(tab[1].Busy) {
					t.Errorf("got %+v", tab)
				}
			},
		},
		{name: "header only", in: "host,t_seconds,core,user,system,softirq\n", check: func(t *testing.T, tab CPUTable) {
			if len(tab) != 0 {
				t.Errorf("got %d rows", len(tab))
			}
		}},
		{name: "empty file", in: "", wantErr: "empty file"},
		{name: "missing column", in: "host,t_seconds,core,user,system\n", wantErr: `no "softirq" column`},
		{name: "bad number", in: "host,t_seconds,core,user,system,softirq\ngw1,1,0,1,2,3\ngw1,1,1,1,two,3\n", wantErr: "line 3, column system"},
		{name: "bad core", in: "host,t_seconds,core,user,system,softirq\ngw1,1,-1,1,2,3\n", wantErr: "not a core number"},
		{name: "no host", in: "host,t_seconds,core,user,system,softirq\n,1,0,1,2,3\n", wantErr: "empty host"},
		{name: "no time", in: "host,t_seconds,core,user,system,softirq\ngw1,,0,1,2,3\n", wantErr: "no t_seconds"},
		{name: "bad count", in: "host,t_seconds,core,user,system,softirq,net_rx\ngw1,1,0,1,2,3,-4\n", wantErr: "column net_rx"},
		{name: "unbalanced quote", in: "host,t_seconds,core,user,system,softirq\n\"gw1,1,0,1,2,3\n", wantErr: "cpu table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := ReadCPUCSV(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, tab)
		})
	}
}

// fixtureCPU reads a cpu.csv of the fixture.
func fixtureCPU(t *testing.T, series string, tunnels, rep int) CPUTable {
	t.Helper()
	tab, path, err := LoadCPU(filepath.Join("testdata", "fixture"), series, tunnels, 1, rep)
	if err != nil {
		t.Fatalf("LoadCPU: %v", err)
	}
	if !strings.HasSuffix(path, filepath.Join(fmt.Sprintf("t%d-f1", tunnels), fmt.Sprintf("rep%d", rep), CPUFileName)) {
		t.Errorf("read %s", path)
	}
	return tab
}

func TestLoadCPUMissing(t *testing.T) {
	_, _, err := LoadCPU(filepath.Join("testdata", "fixture"), "wggo", 8, 1, 0)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestSaturatedCores(t *testing.T) {
	bh := fixtureCPU(t, "kernel", 8, 0)
	single := fixtureCPU(t, "kernel", 1, 0)
	threaded := fixtureCPU(t, "kernel-threaded", 8, 0)
	tests := []struct {
		name     string
		tab      CPUTable
		host     string
		from, to float64
		want     []int
	}{
		{"black hole on gw2 after the warm-up", bh, "gw2", 2, 0, []int{5}},
		{"not yet formed in the first second", bh, "gw2", 0, 1, nil},
		{"gw1 is balanced", bh, "gw1", 2, 0, nil},
		{"single tunnel: the receiving core", single, "gw2", 2, 0, []int{0}},
		{"threaded NAPI spreads the load", threaded, "gw2", 2, 0, nil},
		{"unknown host", bh, "gw9", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.tab.SaturatedCores(tt.host, tt.from, tt.to, DefaultSaturation, DefaultPersistence)
			if !slices.Equal(got, tt.want) {
				t.Errorf("saturated cores = %v, want %v", got, tt.want)
			}
		})
	}
	if hs := bh.Hosts(); !slices.Equal(hs, []string{"gw1", "gw2"}) {
		t.Errorf("hosts = %v", hs)
	}
	if cs := bh.Cores("gw2"); len(cs) != 16 || cs[0] != 0 || cs[15] != 15 {
		t.Errorf("cores = %v", cs)
	}
	// The black-hole core is mostly softirq, the others 10-40 % busy.
	for _, l := range bh.CoreLoads("gw2", 4, 0, 90) {
		switch {
		case l.Core == 5:
			if l.SoftIRQ < 85 || l.Busy < 95 || l.Saturated != 1 {
				t.Errorf("core 5: %+v, want ~100 %% busy, mostly softirq", l)
			}
		case l.Busy < 8 || l.Busy > 45:
			t.Errorf("core %d: busy %.1f %%, want 10-40 %%", l.Core, l.Busy)
		}
	}
}

// synthCPU builds a table of one host with n cores over k samples, where
// busy(core, i) gives each value; NaN makes a missing sample.
func synthCPU(host string, n, k int, busy func(core, i int) float64) CPUTable {
	var tab CPUTable
	for i := range k {
		for c := range n {
			b := busy(c, i)
			tab = append(tab, CPUSample{Host: host, T: float64(i+1) * 0.5, Core: c,
				User: b * 0.1, System: b * 0.3, SoftIRQ: b * 0.6, IRQ: 0, Steal: 0, Idle: 100 - b, Busy: b})
		}
	}
	return tab
}

func TestCoreBars(t *testing.T) {
	bh := fixtureCPU(t, "kernel", 8, 0)
	at := CPUPoint{Series: "kernel", Tunnels: 8, FlowsPerTunnel: 1, Rep: 0, From: 2}
	p, err := CoreBars(bh, "gw2", at, []int{5}, "black-hole core", Options{})
	if err != nil {
		t.Fatal(err)
	}
	txt := svgOf(t, p)
	mustContain(t, "core bars", txt, "gw2 per-core CPU: kernel, 8 tunnels × 1 flow, rep 0", "CPU time (%)",
		"core (mean from 2 s, after the warm-up)", "softirq", "system", "user", "black-hole core", "core 5", "15")
	if w, h := pngSize(t, p); w != 945 || h != 591 {
		t.Errorf("png %d×%d", w, h)
	}

	t.Run("shared cores say so", func(t *testing.T) {
		at := at
		at.SharedCores = true
		p, err := CoreBars(bh, "gw2", at, nil, "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		txt := svgOf(t, p)
		mustContain(t, "svg", txt, "machine-wide")
		mustNotContain(t, "svg", txt, "black-hole", "highlighted")
	})
	t.Run("many cores, NaN samples", func(t *testing.T) {
		tab := synthCPU("gw2", 64, 6, func(c, i int) float64 {
			if c == 7 && i == 2 {
				return math.NaN()
			}
			if c == 40 {
				return 99
			}
			return 20
		})
		p, err := CoreBars(tab, "gw2", CPUPoint{Rep: -1}, []int{40}, "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		txt := svgOf(t, p)
		mustContain(t, "svg", txt, "highlighted core", "40", "mean over the trace")
		if strings.Contains(txt, "NaN") {
			t.Error("NaN printed in the figure")
		}
	})
	for _, tc := range []struct {
		name string
		tab  CPUTable
		host string
		at   CPUPoint
		want string
	}{
		{"host absent", bh, "gw9", at, "hosts: gw1, gw2"},
		{"empty table", nil, "gw2", at, "no sample"},
		{"window after the trace", bh, "gw2", CPUPoint{From: 100}, "no sample in the window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CoreBars(tc.tab, tc.host, tc.at, nil, "", Options{})
			if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrNoData saying %q", err, tc.want)
			}
		})
	}
}

func TestHeatmap(t *testing.T) {
	bh := fixtureCPU(t, "kernel", 8, 0)
	g := newBusyGrid(bh, "gw2")
	if c, r := g.Dims(); c != 20 || r != 16 {
		t.Fatalf("grid %d×%d, want 20 samples × 16 cores", c, r)
	}
	// Core 5 is saturated at the end, idle-ish at the start.
	if z := g.Z(19, 5); z < 95 {
		t.Errorf("core 5 at the end: %g %% busy", z)
	}
	if z := g.Z(0, 5); z > 50 {
		t.Errorf("core 5 at the start: %g %% busy", z)
	}
	if !g.regular() {
		t.Error("a 0.5 s sampled trace is not regular")
	}
	up := newUpGrid(g)
	uc, ur := up.Dims()
	if uc < upPixelsX || ur < upPixelsY/2 {
		t.Errorf("upsampled grid %d×%d is too coarse", uc, ur)
	}
	if up.Z(uc-1, 5*up.ky) != g.Z(19, 5) || math.Abs(up.X(0)-(g.times[0]-0.25)) > 0.25 {
		t.Error("upsampled grid does not map back onto the samples")
	}

	p, err := Heatmap(bh, "gw2", CPUPoint{Series: "kernel", Tunnels: 8, FlowsPerTunnel: 1, Rep: 0, From: 2}, []int{5}, "black-hole", Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "heatmap", svgOf(t, p), "red frame: black-hole core 5", "busy (% of the core)", "warm-up ends",
		"time since the sampler started (s)", "core")
	if w, h := pngSize(t, p); w != 945 || h != 591 {
		t.Errorf("png %d×%d", w, h)
	}

	t.Run("irregular and missing samples", func(t *testing.T) {
		tab := synthCPU("gw1", 4, 5, func(c, i int) float64 { return float64(20 * i) })
		tab[0].T = 0.1 // irregular times: drawn as cells
		tab = slices.DeleteFunc(tab, func(s CPUSample) bool { return s.Core == 2 && s.T == 1.5 })
		g := newBusyGrid(tab, "gw1")
		if g.regular() {
			t.Error("irregular grid taken as regular")
		}
		if z := g.Z(3, 2); !math.IsNaN(z) {
			t.Errorf("missing cell = %g, want NaN", z)
		}
		p, err := Heatmap(tab, "gw1", CPUPoint{Rep: -1}, nil, "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		pngSize(t, p)
	})
	t.Run("one sample", func(t *testing.T) {
		tab := synthCPU("gw1", 2, 1, func(c, i int) float64 { return 50 })
		p, err := Heatmap(tab, "gw1", CPUPoint{Rep: -1}, []int{1}, "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		pngSize(t, p)
	})
	t.Run("mode switch marks", func(t *testing.T) {
		at := CPUPoint{Rep: 0, Marks: []TimeMark{
			{T: 3, Label: "wgbi0 → hybrid"}, {T: 6.5, Label: "wgbi0 → inline"}, {T: 99, Label: "after the trace → hybrid"},
		}}
		p, err := Heatmap(bh, "gw2", at, nil, "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		svg := svgOf(t, p)
		mustContain(t, "heatmap with marks", svg, "wgbi0 → hybrid", "wgbi0 → inline")
		if strings.Contains(svg, "after the trace") {
			t.Error("a mark past the end of the trace is drawn")
		}
	})
	t.Run("no host", func(t *testing.T) {
		if _, err := Heatmap(bh, "drain", CPUPoint{}, nil, "", Options{}); !errors.Is(err, ErrNoData) {
			t.Errorf("err = %v, want ErrNoData", err)
		}
	})
}

func TestCPUPointString(t *testing.T) {
	tests := []struct {
		at   CPUPoint
		want string
	}{
		{CPUPoint{Series: "kernel", Tunnels: 8, FlowsPerTunnel: 1, Rep: 2}, "kernel, 8 tunnels × 1 flow, rep 2"},
		{CPUPoint{Run: "before", Series: "k", Tunnels: 1, FlowsPerTunnel: 4, Rep: -1}, "before/k, 1 tunnel × 4 flows"},
		{CPUPoint{Rep: -1}, ""},
	}
	for _, tt := range tests {
		if got := tt.at.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.at, got, tt.want)
		}
	}
}
