// Package version holds the wgbench version, set at build time with
// -ldflags "-X github.com/wgbench/wgbench/internal/version.Version=...".
package version

import "runtime/debug"

// Version is the release or commit wgbench was built from.
var Version = ""

// String returns Version, or the module build information when it is unset.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}
