package cpuset

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestAffinity sets the calling thread's affinity and reads it back,
// including a CPU beyond x/sys/unix's 1024-CPU mask, which the kernel
// ignores because the host lacks it.
func TestAffinity(t *testing.T) {
	runtime.LockOSThread()
	// The thread is dropped when the test's goroutine ends locked, so its
	// changed affinity reaches no other goroutine.
	allowed, err := GetAffinity(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) == 0 || !slices.IsSorted(allowed) {
		t.Fatalf("GetAffinity(0) = %v, want a non-empty ascending set", allowed)
	}
	one := allowed[len(allowed)-1]
	if err := SetAffinity(0, Set{MaxCPU, one}); err != nil {
		t.Fatalf("SetAffinity(0, {%d, %d}): %v", MaxCPU, one, err)
	}
	if got, err := GetAffinity(0); err != nil || !slices.Equal(got, Set{one}) {
		t.Errorf("after SetAffinity(0, {%d, %d}): GetAffinity(0) = %v, %v; want [%d]", MaxCPU, one, got, err, one)
	}
	if err := SetAffinity(0, allowed); err != nil {
		t.Fatal(err)
	}
	if got, err := GetAffinity(0); err != nil || !slices.Equal(got, allowed) {
		t.Errorf("after restoring: GetAffinity(0) = %v, %v; want %v", got, err, allowed)
	}
}

func TestAffinityErrors(t *testing.T) {
	tests := []struct {
		tid  int
		set  Set
		want string
	}{
		{0, nil, "no CPUs given"},
		{0, Set{MaxCPU + 1}, "CPU 4096 out of range 0..4095"},
		{0, Set{-1}, "CPU -1 out of range"},
		{0, Set{MaxCPU}, "sched_setaffinity(0, 4095): invalid argument"},
		{-1, Set{0}, "sched_setaffinity(-1, 0)"},
	}
	for _, tt := range tests {
		if err := SetAffinity(tt.tid, tt.set); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SetAffinity(%d, %v) = %v, want an error containing %q", tt.tid, tt.set, err, tt.want)
		}
	}
	if _, err := GetAffinity(-1); err == nil || !strings.Contains(err.Error(), "sched_getaffinity(-1)") {
		t.Errorf("GetAffinity(-1) = %v, want an error naming sched_getaffinity(-1)", err)
	}
}
