package scenarios

import "github.com/wgbench/wgbench/internal/strictyaml"

// maxErrors caps how many errors one Parse reports; the rest are counted.
const maxErrors = strictyaml.MaxErrors

// Error is one problem found in a scenario, with where it was found: the
// scenario file or, for an error in an override, "--set key=value".
type Error = strictyaml.Error

// Errors is every problem found in one scenario, in file order. Parse and
// Load return it as their error when the scenario is not valid.
type Errors = strictyaml.Errors
