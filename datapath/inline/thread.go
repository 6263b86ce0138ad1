package inline

// threadPrefix starts the names of the data threads; the CPU probes
// (probes/stage) attribute "inline/<dev>" threads to the inline stage and
// device.
const threadPrefix = "inline/"

// threadName is the thread name of tunnel dev's data threads, cut to the
// 15 bytes a thread name holds.
func threadName(dev string) string {
	n := threadPrefix + dev
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}
