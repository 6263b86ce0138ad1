package tuner

import (
	"fmt"
	"math"

	"github.com/wgbench/wgbench/results/paper"
)

// The numbers the rules quote from the HPSR 2025 paper come from its data
// (results/paper/hpsr2025.yaml), by claim ID or by figure, series and
// point, so the advice and `wgbench compare --paper` say the same.

// published is the HPSR 2025 paper's data. The file is embedded and
// checked by its package's tests; failing to read it is a build defect.
var published = func() *paper.Data {
	d, err := paper.HPSR2025()
	if err != nil {
		panic(fmt.Sprintf("tuner: %v", err))
	}
	return d
}()

// claim returns the published claim id; a missing one is a defect the
// tests catch (TestPaperNumbers).
func claim(id string) paper.Claim {
	c, ok := published.Claim(id)
	if !ok {
		panic("tuner: results/paper has no claim " + id)
	}
	return c
}

// claimGain is the relative gain a claim states: 0.31 for "+31 %".
func claimGain(id string) float64 { return round2(claim(id).Ratio - 1) }

// claimPct is a claim's gain as text: "+31 %".
func claimPct(id string) string { return fmt.Sprintf("%+.0f %%", 100*claimGain(id)) }

// claimTimes is a claim's ratio as text: "2×".
func claimTimes(id string) string { return fmt.Sprintf("%g×", claim(id).Ratio) }

// value returns a published value of Fig. figure's series at x (0: the
// series' maximum).
func value(figure, series string, x int) paper.Value {
	v, ok := published.Value(figure, series, x)
	if !ok {
		panic(fmt.Sprintf("tuner: results/paper has no value %s/%s at %d", figure, series, x))
	}
	return v
}

// gbit writes a published value: "13 Gbit/s", "over 90 Gbit/s".
func gbit(v paper.Value) string {
	s := fmt.Sprintf("%g Gbit/s", v.Gbps)
	switch v.Bound {
	case paper.Min:
		return "over " + s
	case paper.Max:
		return "under " + s
	}
	return s
}

func round2(x float64) float64 { return math.Round(100*x) / 100 }
