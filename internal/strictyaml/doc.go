// Package strictyaml holds what wgbench's strict YAML decoders (scenario
// files, SSH inventories) share: positioned errors and their list, the
// parse of exactly one document with syntax errors placed on the line
// they concern, and the small node helpers (alias resolution, null test,
// value description, key paths, "did you mean" hints). Each decoder
// keeps its own schema and messages.
package strictyaml
