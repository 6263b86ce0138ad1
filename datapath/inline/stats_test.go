package inline

import (
	"encoding/json"
	"testing"
)

func TestDropReasonsComplete(t *testing.T) {
	if len(DropReasons) != numDropReasons {
		t.Fatalf("len(DropReasons) = %d, numDropReasons = %d", len(DropReasons), numDropReasons)
	}
	var c counters
	for i, r := range DropReasons {
		c.drop(r, i+1)
	}
	var s TunnelStats
	c.snapshot(&s)
	for i, r := range DropReasons {
		if s.Drops[r] != uint64(i+1) {
			t.Errorf("drops[%s] = %d, want %d", r, s.Drops[r], i+1)
		}
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back TunnelStats
	if err := json.Unmarshal(js, &back); err != nil || back.Drops[DropReplay] != s.Drops[DropReplay] {
		t.Errorf("stats do not survive JSON: %v", err)
	}
}
