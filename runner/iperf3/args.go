// Package iperf3 builds iperf3 command lines and reads iperf3's JSON
// reports. It starts no process itself: the runner runs the commands on the
// testbed's hosts and hands the client's output to Parse.
//
// One client/server pair carries one flow. Servers stay up across the
// repetitions of a point, so they are started without --one-off and serve
// one test after another; a client that finds its server still busy with a
// previous test gets an *Error with Busy set and may retry.
//
// iperf3 3.12 exits with status 0 when it reports an error in JSON mode
// (-J), so the exit status of a client says little: Parse its output.
package iperf3

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Binary is the name of the iperf3 executable, the first element of the
// argument lists built here.
const Binary = "iperf3"

// ClientOptions describe one iperf3 client run.
type ClientOptions struct {
	// Server is the address of the iperf3 server (-c).
	Server netip.Addr
	// Bind is the local address the client binds to (-B); the zero Addr
	// leaves the choice to the kernel.
	Bind netip.Addr
	// Port is the server's port (-p); 0 means iperf3's default, 5201.
	Port int
	// Duration is the measured time (-t), after the warm-up. iperf3 runs
	// for Omit+Duration in all. It is rounded up to whole seconds; 0 means
	// iperf3's default of 10 s.
	Duration time.Duration
	// Omit is the warm-up iperf3 leaves out of its results (-O), rounded
	// up to whole seconds; 0 means none.
	Omit time.Duration
	// UDP selects UDP (-u) instead of TCP.
	UDP bool
	// Bitrate is the target rate in bits per second (-b). For TCP, 0 means
	// unlimited and -b is left out. For UDP, 0 also means unlimited and is
	// written as -b 0, since iperf3 would otherwise send 1 Mbit/s.
	Bitrate uint64
	// Length is the buffer size, for UDP the datagram payload size, in
	// bytes (-l); 0 means iperf3's default.
	Length int
	// LogFile receives the JSON report (--logfile) instead of stdout.
	// iperf3 appends to it; Parse reads the last report of a file that
	// holds several.
	LogFile string
	// ConnectTimeout bounds the control connection setup
	// (--connect-timeout), rounded up to whole milliseconds; 0 means the
	// operating system's timeout.
	ConnectTimeout time.Duration
}

// Validate reports what in o would make iperf3 refuse to run or do
// something other than what was asked.
func (o ClientOptions) Validate() error {
	var errs []error
	if !o.Server.IsValid() {
		errs = append(errs, errors.New("no server address"))
	}
	if err := checkPort(o.Port); err != nil {
		errs = append(errs, err)
	}
	if o.Bind.IsValid() && o.Server.IsValid() && o.Bind.Is4() != o.Server.Is4() {
		errs = append(errs, fmt.Errorf("bind address %s and server address %s are of different families", o.Bind, o.Server))
	}
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("negative duration %v", o.Duration))
	}
	if o.Omit < 0 {
		errs = append(errs, fmt.Errorf("negative warm-up %v", o.Omit))
	}
	if o.Length < 0 {
		errs = append(errs, fmt.Errorf("negative length %d", o.Length))
	}
	if o.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("negative connect timeout %v", o.ConnectTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("iperf3 client options: %w", err)
	}
	return nil
}

// ClientArgs returns the command line of an iperf3 client, Binary first,
// always with JSON output (-J). It does not check o; see Validate.
func ClientArgs(o ClientOptions) []string {
	args := []string{Binary, "-c", o.Server.String()}
	if o.Bind.IsValid() {
		args = append(args, "-B", o.Bind.String())
	}
	if o.Port != 0 {
		args = append(args, "-p", strconv.Itoa(o.Port))
	}
	if o.Duration > 0 {
		args = append(args, "-t", strconv.FormatInt(ceilDiv(o.Duration, time.Second), 10))
	}
	if o.Omit > 0 {
		args = append(args, "-O", strconv.FormatInt(ceilDiv(o.Omit, time.Second), 10))
	}
	if o.UDP {
		args = append(args, "-u", "-b", strconv.FormatUint(o.Bitrate, 10))
	} else if o.Bitrate > 0 {
		args = append(args, "-b", strconv.FormatUint(o.Bitrate, 10))
	}
	if o.Length > 0 {
		args = append(args, "-l", strconv.Itoa(o.Length))
	}
	if o.ConnectTimeout > 0 {
		args = append(args, "--connect-timeout", strconv.FormatInt(ceilDiv(o.ConnectTimeout, time.Millisecond), 10))
	}
	args = append(args, "-J")
	if o.LogFile != "" {
		args = append(args, "--logfile", o.LogFile)
	}
	return args
}

// ServerOptions describe a long-lived iperf3 server.
type ServerOptions struct {
	// Bind is the address the server listens on (-B); the zero Addr means
	// every address.
	Bind netip.Addr
	// Port is the port the server listens on (-p); 0 means 5201.
	Port int
	// LogFile, when set, receives the server's human-readable log
	// (--logfile), appended test after test. When empty the log goes to
	// stdout for the caller to capture. Either way it is flushed line by
	// line (--forceflush), so "Server listening" shows when it is true and
	// the log is complete when the server is stopped.
	LogFile string
}

// Validate reports what in o would make iperf3 refuse to run.
func (o ServerOptions) Validate() error {
	if err := checkPort(o.Port); err != nil {
		return fmt.Errorf("iperf3 server options: %w", err)
	}
	return nil
}

// ServerArgs returns the command line of an iperf3 server, Binary first.
// It does not check o; see Validate.
//
// The server serves one test after another until it is stopped, so it is
// not given --one-off. Nor is it given -J: in JSON mode a server writes one
// report per test and only when the test ends, its figures for the receiver
// side already reach the client's report (sum_received), and a log that
// reads line by line is the more useful record of a server that misbehaved.
func ServerArgs(o ServerOptions) []string {
	args := []string{Binary, "-s"}
	if o.Bind.IsValid() {
		args = append(args, "-B", o.Bind.String())
	}
	if o.Port != 0 {
		args = append(args, "-p", strconv.Itoa(o.Port))
	}
	if o.LogFile != "" {
		args = append(args, "--logfile", o.LogFile)
	}
	// Flushed line by line also on a pipe, so the caller sees "Server
	// listening" as soon as it is true.
	return append(args, "--forceflush")
}

func checkPort(p int) error {
	if p < 0 || p > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", p)
	}
	return nil
}

// ceilDiv returns d/unit rounded up.
func ceilDiv(d, unit time.Duration) int64 {
	q := d / unit
	if d%unit != 0 {
		q++
	}
	return int64(q)
}
