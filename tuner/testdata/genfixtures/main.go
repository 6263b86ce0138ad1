// Command genfixtures writes the tuner's fixtures (see
// tuner/internal/fixtures). Run it from the module root with
//
//	go run ./tuner/testdata/genfixtures tuner/testdata
package main

import (
	"fmt"
	"os"

	"github.com/wgbench/wgbench/tuner/internal/fixtures"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genfixtures DIR")
		os.Exit(2)
	}
	if err := fixtures.Write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genfixtures:", err)
		os.Exit(1)
	}
}
