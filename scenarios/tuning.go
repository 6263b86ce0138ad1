package scenarios

import (
	"reflect"
	"strconv"
)

// Value returns the value of the knob with yaml name name as a flag
// writes it ("true", "0-3,8", "-1", "emulated-inline"), and whether it is
// set.
func (t Tuning) Value(name string) (string, bool) {
	v := reflect.ValueOf(t)
	f := fieldIndex(v.Type(), name)
	if f < 0 || name == "optional" {
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
