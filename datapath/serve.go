// Package datapath is the engine-neutral entry point of the datapaths:
// the runner calls Plan to learn which processes bring a series' engine
// up on the gateways; on a gateway, `wgbench datapath up` calls Serve and
// `wgbench agent wg-stats` calls Status. Each engine registers itself in
// an engine_NAME.go file; the engines live in subpackages (plain, wggo,
// …).
package datapath

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/datapath/wgconf"
)

// Options selects an engine and its inputs.
type Options struct {
	// Engine is the datapath name: one of Engines().
	Engine string
	// Configs are wg-quick style files, one per tunnel (tunnel engines).
	Configs []string
	// Routes are "DST=VIA" static routes (plain engine).
	Routes []string
	// CPUs are the cores the engine may use: the inline engine spreads its
	// tunnels over them, one pinned core each; wggo pins the whole process
	// to them. Empty means all cores.
	CPUs []int
	// Kernel holds the kernel engine's tuning flags (--threaded-napi, …).
	Kernel KernelFlags
	// InlineMode is the inline engine's mode (--mode): "inline" (or
	// empty) or "hybrid".
	InlineMode string
}

// engine is a running datapath.
type engine interface {
	// Devices names the interfaces the engine brought up.
	Devices() []string
	// Close undoes everything the engine did.
	Close() error
}

// reporter is an engine that changes host settings beyond its devices.
// Serve prints its report as one line "tuning <JSON>" just before the
// ready line, so the controller has it once the datapath is ready.
type reporter interface {
	TuningReport() any
}

// starter validates opts for one engine and brings it up in the calling
// thread's network namespace.
type starter func(ctx context.Context, opts Options, log *slog.Logger) (engine, error)

// engineDef is all the datapath package knows of one engine: whether a
// host can run it, how to plan its processes on the gateways, and how one
// of those processes brings it up.
type engineDef struct {
	// check tells why this host cannot run the engine, or nil.
	check func() error
	// plan describes the processes that bring the engine up on both
	// gateways, each with its own argv.
	plan planner
	// udpPorts says the engine listens on one UDP port per tunnel.
	udpPorts bool
	// start brings the engine up in this process (`datapath up`).
	start starter
	// status reads the tunnels' state and counters (`agent wg-stats
	// --engine NAME`); nil means the WireGuard devices' (Status).
	status func(names []string) ([]TunnelStatus, error)
	// baseline says the engine is not WireGuard but a tunnel WireGuard is
	// compared with: the tuner gives its series no WireGuard advice.
	baseline bool
}

// engines is the registry of datapaths. To add one, add a file
// engine_NAME.go that registers its engineDef from an init function.
var engines = map[string]engineDef{}

// register adds an engine; each engine_*.go file calls it once.
func register(name string, e engineDef) {
	if _, dup := engines[name]; dup {
		panic("datapath: engine " + name + " registered twice")
	}
	engines[name] = e
}

// Engines returns the known engine names, sorted.
func Engines() []string {
	names := make([]string, 0, len(engines))
	for n := range engines {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Serve brings the engine of opts up in the calling thread's network
// namespace, writes one line "ready <dev> <dev> ...\n" to ready, waits
// until ctx is done, then tears the engine down and returns the teardown
// error (nil on a clean shutdown). Errors before the ready line mean
// nothing is left behind.
func Serve(ctx context.Context, opts Options, ready io.Writer, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e, ok := engines[opts.Engine]
	if !ok {
		if opts.Engine == "" {
			return fmt.Errorf("no datapath engine given; choose one of: %s", strings.Join(Engines(), ", "))
		}
		return fmt.Errorf("unknown datapath engine %q; choose one of: %s", opts.Engine, strings.Join(Engines(), ", "))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("datapath %s: %w", opts.Engine, err)
	}
	kf := opts.Kernel
	if opts.Engine == "ipsec" {
		kf.Journal = "" // the ipsec engine journals its SAs too
	}
	if opts.Engine != "kernel" && !kf.IsZero() {
		return fmt.Errorf("datapath %s takes no kernel tuning flags (--threaded-napi, --napi-cpus, …); they apply to --engine kernel", opts.Engine)
	}
	if opts.Engine != "inline" && opts.InlineMode != "" && opts.InlineMode != "inline" {
		return fmt.Errorf("datapath %s takes no --mode; it applies to --engine inline", opts.Engine)
	}
	eng, err := e.start(ctx, opts, log)
	if err != nil {
		return err
	}
	if r, ok := eng.(reporter); ok {
		b, err := json.Marshal(r.TuningReport())
		if err == nil {
			_, err = fmt.Fprintf(ready, "tuning %s\n", b)
		}
		if err != nil {
			return errors.Join(fmt.Errorf("datapath %s: write tuning line: %w", opts.Engine, err), eng.Close())
		}
	}
	devs := eng.Devices()
	if _, err := fmt.Fprintln(ready, strings.Join(append([]string{"ready"}, devs...), " ")); err != nil {
		return errors.Join(fmt.Errorf("datapath %s: write ready line: %w", opts.Engine, err), eng.Close())
	}
	log.Info("datapath up", "engine", opts.Engine, "devices", devs)
	<-ctx.Done()
	log.Info("datapath shutting down", "engine", opts.Engine)
	if err := eng.Close(); err != nil {
		return fmt.Errorf("datapath %s: tear down: %w", opts.Engine, err)
	}
	return nil
}

// loadConfigs parses the config files of a tunnel engine, which takes no
// plain routes.
func loadConfigs(engine string, opts Options) ([]*wgconf.Config, error) {
	if len(opts.Routes) > 0 {
		return nil, fmt.Errorf("datapath %s takes no DST=VIA routes (those are for plain); routes come from each peer's AllowedIPs", engine)
	}
	if len(opts.Configs) == 0 {
		return nil, fmt.Errorf("datapath %s needs at least one WireGuard config file, one per tunnel", engine)
	}
	return loadEach(engine, opts.Configs, wgconf.ParseFile)
}

// loadEach loads each of the tunnel files paths of engine with load, in
// order; the first that fails fails it.
func loadEach[T any](engine string, paths []string, load func(path string) (T, error)) ([]T, error) {
	out := make([]T, 0, len(paths))
	for _, p := range paths {
		v, err := load(p)
		if err != nil {
			return nil, fmt.Errorf("datapath %s: %w", engine, err)
		}
		out = append(out, v)
	}
	return out, nil
}
