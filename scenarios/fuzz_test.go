package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that every failure is an
// *Errors naming where, and that every scenario it accepts is written back
// by YAML to an equal scenario.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"multi-tunnel.yaml", "testdata/anchors.yaml", "testdata/many-errors.yaml"} {
		data, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "repetitions=2")
	}
	f.Add([]byte("name: t\nseries: [{datapath: kernel, tuning: {napi_cpus: 0-3}}]\n"), "series[0].tuning.threaded_napi=true")
	f.Add([]byte("a: &x [*x, {<<: *x}]\n"), "sweep.tunnels[0]=[1]")
	f.Add([]byte("name: t\nseries: [{datapath: wggo}]\n"), "description=yes: \"#\" ~ 0x10\n")
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		s, err := Parse("f.yaml", data, []string{set})
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.List) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *Errors", err, err)
			}
			for _, e := range errs.List {
				if e.File == "" || e.Msg == "" {
					t.Fatalf("error without file or message: %#v", e)
				}
			}
			return
		}
		out, err := s.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("back.yaml", out, nil)
		if err != nil {
			t.Fatalf("written back scenario does not parse: %v\n%s", err, out)
		}
		if diff := cmp.Diff(s, back); diff != "" {
			t.Fatalf("round trip (-parsed +written back):\n%s\n%s", diff, out)
		}
	})
}
