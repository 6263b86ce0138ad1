package scenarios

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Value returns the value of the knob with yaml name name as a flag
// writes it ("true", "0-3,8", "-1", "emulated-inline"), and whether it is
// set.
func (t Tuning) Value(name string) (string, bool) {
	v := reflect.ValueOf(t)
	f := fieldIndex(v.Type(), name)
	if f < 0 || !isKnob(name) {
		return "", false
	}
	fv := v.Field(f)
	if fv.IsZero() || (fv.Kind() == reflect.Slice && fv.Len() == 0) {
		return "", false
	}
	switch x := fv.Interface().(type) {
	case bool:
		return strconv.FormatBool(x), true
	case CPUList:
		return x.String(), true
	case *int:
		return strconv.Itoa(*x), true
	case string:
		return x, true
	}
	return "", false
}

// Gateway roles of per-gateway tuning blocks.
const (
	RoleGW1 = "gw1"
	RoleGW2 = "gw2"
)

// isKnob reports whether the Tuning field with yaml name name is a knob:
// neither optional nor a gateway block.
func isKnob(name string) bool {
	return name != "optional" && name != RoleGW1 && name != RoleGW2
}

// Block returns the tuning block of gateway n (1: gw1, 2: gw2), nil when
// the series has none.
func (t Tuning) Block(n int) *Tuning {
	switch n {
	case 1:
		return t.GW1
	case 2:
		return t.GW2
	}
	return nil
}

// HasBlocks reports whether t tunes a gateway alone.
func (t Tuning) HasBlocks() bool { return t.GW1 != nil || t.GW2 != nil }

// Gateway returns the tuning gateway n (1: gw1, 2: gw2) runs: the shared
// knobs, each replaced on that gateway by its block's value where the
// block sets it, without blocks. Its optional lists the knobs of the
// shared and the block's optional that are set on the gateway.
func (t Tuning) Gateway(n int) Tuning {
	eff := t
	eff.GW1, eff.GW2 = nil, nil
	b := t.Block(n)
	if b == nil {
		return eff
	}
	dst, src := reflect.ValueOf(&eff).Elem(), reflect.ValueOf(b).Elem()
	for _, name := range b.Set() {
		f := fieldIndex(dst.Type(), name)
		dst.Field(f).Set(src.Field(f))
	}
	set := eff.Set()
	var opt []string
	for _, o := range append(slices.Clone(t.Optional), b.Optional...) {
		if slices.Contains(set, o) && !slices.Contains(opt, o) {
			opt = append(opt, o)
		}
	}
	eff.Optional = opt
	return eff
}

// Summary names the knobs t sets, for a table cell: the shared ones, then
// each gateway block's, as in "steering; gw2: numa_node, decrypt_cpus".
// It is empty when nothing is set.
func (t Tuning) Summary() string {
	parts := []string{strings.Join(t.Set(), ", ")}
	for n := 1; n <= 2; n++ {
		if b := t.Block(n); b != nil && len(b.Set()) > 0 {
			parts = append(parts, "gw"+strconv.Itoa(n)+": "+strings.Join(b.Set(), ", "))
		}
	}
	if parts[0] == "" {
		parts = parts[1:]
	}
	return strings.Join(parts, "; ")
}
