package iperf3

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes, seeded with the real iperf3 outputs in
// testdata, to Parse: iperf3's log is untrusted input (text around the
// JSON, truncation, several reports) and must never make it panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"end": {}}`))
	f.Add([]byte("iperf3: error - unable to connect\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err == nil && r == nil {
			t.Fatal("nil result without an error")
		}
		if err == nil && (r.Bps < 0 || r.Seconds < 0) {
			t.Fatalf("negative figures accepted: %+v", r)
		}
	})
}
