package stage

import "testing"

func TestClassify(t *testing.T) {
	c := Classifier{
		PIDs:    map[int]Stage{500: Inline, 600: WGGo},
		Devices: []string{"wgbench-t0", "wgbench-t1", "wgx0"},
	}
	tests := []struct {
		name string
		t    Thread
		want Label
	}{
		{"ksoftirqd", Thread{PID: 14, Comm: "ksoftirqd/0", ProcComm: "ksoftirqd/0", Kernel: true}, Label{KSoftirqd, ""}},
		{"ksoftirqd name on a user thread is not one", Thread{PID: 9, Comm: "ksoftirqd/0", ProcComm: "x"}, Label{Other, ""}},
		{"threaded napi", Thread{PID: 90, Comm: "napi/wg0-8193", Kernel: true}, Label{NAPI, "wg0"}},
		{"napi dev with dashes", Thread{PID: 90, Comm: "napi/wg-a-1-81", Kernel: true}, Label{NAPI, "wg-a-1"}},
		{"napi id cut by comm limit", Thread{PID: 90, Comm: "napi/wgx0-", Kernel: true}, Label{NAPI, "wgx0"}},
		{"napi dev cut, completed from Devices", Thread{PID: 90, Comm: "napi/wgbench-t1", Kernel: true}, Label{NAPI, "wgbench-t1"}},
		{"napi dev cut, ambiguous", Thread{PID: 90, Comm: "napi/wgbench-t", Kernel: true}, Label{NAPI, "wgbench-t"}},
		{"napi of a NIC", Thread{PID: 91, Comm: "napi/eth0-8195", Kernel: true}, Label{NAPI, "eth0"}},
		{"wg-crypt bound kworker", Thread{PID: 11, Comm: "kworker/1:2+wg-crypt-wg0", Kernel: true}, Label{WGCrypt, "wg0"}},
		{"wg-crypt idle kworker", Thread{PID: 11, Comm: "kworker/u8:3-wg-crypt-wg1", Kernel: true}, Label{WGCrypt, "wg1"}},
		{"wg-crypt rescuer", Thread{PID: 12, Comm: "kworker/R-wg-crypt-wg1", Kernel: true}, Label{WGCrypt, "wg1"}},
		{"other kworker", Thread{PID: 13, Comm: "kworker/0:1-events", Kernel: true}, Label{Other, ""}},
		{"other kthread", Thread{PID: 2, Comm: "kthreadd", Kernel: true}, Label{Other, ""}},
		{"kernel thread ignores PIDs", Thread{PID: 500, Comm: "kthreadd", Kernel: true}, Label{Other, ""}},
		{"iperf3 main", Thread{PID: 300, Comm: "iperf3", ProcComm: "iperf3"}, Label{IPerf3, ""}},
		{"iperf3 worker thread", Thread{PID: 300, Comm: "iperf3", ProcComm: "iperf3"}, Label{IPerf3, ""}},
		{"iperf3-like name", Thread{PID: 301, Comm: "iperf3x", ProcComm: "iperf3x"}, Label{Other, ""}},
		{"wireguard-go", Thread{PID: 400, Comm: "wireguard-go", ProcComm: "wireguard-go"}, Label{WGGo, ""}},
		{"datapath process from PIDs", Thread{PID: 500, Comm: "wgbench", ProcComm: "wgbench"}, Label{Inline, ""}},
		{"PIDs beat process name", Thread{PID: 600, Comm: "iperf3", ProcComm: "iperf3"}, Label{WGGo, ""}},
		{"named inline thread", Thread{PID: 500, Comm: "inline/wg3", ProcComm: "wgbench"}, Label{Inline, "wg3"}},
		{"named wggo thread", Thread{PID: 777, Comm: "wggo/wgx0", ProcComm: "wgbench"}, Label{WGGo, "wgx0"}},
		{"unmapped wgbench (the agent itself)", Thread{PID: 700, Comm: "wgbench", ProcComm: "wgbench"}, Label{Other, ""}},
		{"empty", Thread{}, Label{Other, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Classify(tt.t); got != tt.want {
				t.Errorf("Classify(%+v) = %+v, want %+v", tt.t, got, tt.want)
			}
		})
	}
}

func TestZeroClassifier(t *testing.T) {
	var c Classifier
	got := c.Classify(Thread{PID: 90, Comm: "napi/wgbench-t1", Kernel: true})
	if want := (Label{NAPI, "wgbench-t1"}); got != want {
		t.Errorf("zero Classifier: %+v, want %+v", got, want)
	}
}
