package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// File names inside a run folder.
const (
	// RunFile holds the Run as JSON.
	RunFile = "run.json"
	// PointsFile holds one CSV row per Point, rewritten on every Save.
	PointsFile = "points.csv"
	// RawDirName is the folder of the raw iperf3 logs.
	RawDirName = "raw"
)

// Permissions of what a run folder holds.
const (
	filePerm = 0o644
	dirPerm  = 0o755
)

// tmpPrefix starts the name of every temporary file Save writes; leftovers
// of an interrupted Save are recognised by it and removed.
const tmpPrefix = ".wgbench-tmp-"

// testHookBeforeRename, when set by a test, runs after the temporary files
// are written and before they replace the real ones. An error from it
// makes Save fail as a failed write would.
var testHookBeforeRename func() error

// Folder is a run folder on disk: run.json, points.csv and the raw logs
// under raw/. Save may be called from several goroutines.
type Folder struct {
	// Dir is the folder's path.
	Dir string

	mu sync.Mutex
}

// Create makes a new run folder at dir, with its parents. It fails when dir
// exists and holds anything, so runs never overwrite each other.
func Create(dir string) (*Folder, error) {
	if dir == "" {
		return nil, errors.New("create run folder: empty path")
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("create run folder %s: it already exists and is not empty (%d entries); choose another output folder or resume the run in it", dir, len(entries))
	}
	return &Folder{Dir: dir}, nil
}

// Open reads the run folder at dir, to resume or analyse it. It refuses a
// run.json written with a newer schema than SchemaVersion and reports a
// corrupt run.json with its path and the line and column of the fault.
func Open(dir string) (*Folder, *Run, error) {
	path := filepath.Join(dir, RunFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("open run folder %s: no %s, so it is not a wgbench run folder: %w", dir, RunFile, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open run folder: %w", err)
	}
	r, err := decodeRun(path, data)
	if err != nil {
		return nil, nil, err
	}
	return &Folder{Dir: dir}, r, nil
}

// decodeRun checks the schema version of a run.json, then decodes it. The
// version is read first so that a newer layout is reported as such rather
// than as whatever decoding error its changes cause.
func decodeRun(path string, data []byte) (*Run, error) {
	var head struct {
		Schema *int `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, jsonError(path, data, err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("%s: no \"schema\" field, so it is not a wgbench run file", path)
	case *head.Schema > SchemaVersion:
		return nil, fmt.Errorf("%s: schema version %d is newer than this wgbench understands (%d); use a newer wgbench to read it", path, *head.Schema, SchemaVersion)
	case *head.Schema < 1:
		return nil, fmt.Errorf("%s: invalid schema version %d", path, *head.Schema)
	}
	var r Run
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonError(path, data, err)
	}
	return &r, nil
}

// jsonError wraps a decoding error of the file at path with the line and
// column where it happened, when the error says.
func jsonError(path string, data []byte, err error) error {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return fmt.Errorf("%s: corrupt run file: %w", path, err)
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return fmt.Errorf("%s:%d:%d: corrupt run file: %w", path, line, col, err)
}

// Save writes r to run.json and rewrites points.csv from r.Points. Both
// files are written to temporary files in the folder, flushed to disk and
// renamed over the old ones, so a crash or a failed write leaves the
// previous run.json in place. Temporary files left by an interrupted Save
// are removed. The Schema written is always SchemaVersion; r is not
// modified.
func (f *Folder) Save(r *Run) error {
	if r == nil {
		return errors.New("save run: nil run")
	}
	f.mu.Lock()
	defer f.mu.Unlock()

	cp := *r
	cp.Schema = SchemaVersion
	js, err := json.MarshalIndent(&cp, "", "  ")
	if err != nil {
		return fmt.Errorf("save run: encode %s: %w", RunFile, err)
	}
	js = append(js, '\n')
	var csvBuf bytes.Buffer
	if err := WritePointsCSV(&csvBuf, r.Points); err != nil {
		return fmt.Errorf("save run: encode %s: %w", PointsFile, err)
	}

	if err := f.removeTemps(); err != nil {
		return fmt.Errorf("save run: %w", err)
	}
	tmpRun, err := f.writeTemp(js)
	if err != nil {
		return fmt.Errorf("save run: write %s: %w", RunFile, err)
	}
	tmpCSV, err := f.writeTemp(csvBuf.Bytes())
	if err != nil {
		os.Remove(tmpRun)
		return fmt.Errorf("save run: write %s: %w", PointsFile, err)
	}
	if testHookBeforeRename != nil {
		if err := testHookBeforeRename(); err != nil {
			os.Remove(tmpRun)
			os.Remove(tmpCSV)
			return fmt.Errorf("save run: %w", err)
		}
	}
	// run.json is the record; points.csv is derived from it, so it is
	// replaced first: should the second rename fail, run.json still
	// describes the previous state and the next Save fixes both.
	if err := os.Rename(tmpCSV, f.Path(PointsFile)); err != nil {
		os.Remove(tmpRun)
		os.Remove(tmpCSV)
		return fmt.Errorf("save run: replace %s: %w", PointsFile, err)
	}
	if err := os.Rename(tmpRun, f.Path(RunFile)); err != nil {
		os.Remove(tmpRun)
		return fmt.Errorf("save run: replace %s: %w", RunFile, err)
	}
	if err := syncDir(f.Dir); err != nil {
		return fmt.Errorf("save run: %w", err)
	}
	return nil
}

// writeTemp writes data to a new temporary file in the folder, flushes it
// to disk and returns its path.
func (f *Folder) writeTemp(data []byte) (path string, err error) {
	tmp, err := os.CreateTemp(f.Dir, tmpPrefix+"*")
	if err != nil {
		return "", err
	}
	path = tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(path)
		}
	}()
	if err := tmp.Chmod(filePerm); err != nil {
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, nil
}

// removeTemps deletes temporary files an interrupted Save left behind.
func (f *Folder) removeTemps() error {
	entries, err := os.ReadDir(f.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.Remove(f.Path(e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove leftover temporary file: %w", err)
			}
		}
	}
	return nil
}

// syncDir flushes a directory, so renames in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Path returns the path of rel inside the folder. It only joins names; see
// MkdirAll for a checked variant.
func (f *Folder) Path(rel ...string) string {
	return filepath.Join(append([]string{f.Dir}, rel...)...)
}

// MkdirAll creates the folder rel inside the run folder, with its parents,
// and returns its path. rel must stay inside the run folder.
func (f *Folder) MkdirAll(rel ...string) (string, error) {
	joined := filepath.Join(rel...)
	if joined == "" || !filepath.IsLocal(joined) {
		return "", fmt.Errorf("create %q in run folder %s: not a path inside the folder", joined, f.Dir)
	}
	p := f.Path(joined)
	if err := os.MkdirAll(p, dirPerm); err != nil {
		return "", fmt.Errorf("create folder in run folder: %w", err)
	}
	return p, nil
}

// RawDir returns the folder, relative to the run folder, for the raw logs
// of one repetition of a point:
// raw/<series>/t<tunnels>-f<flowsPerTunnel>/rep<rep>. The series name is
// reduced to safe characters as in DefaultDir.
func RawDir(series string, tunnels, flowsPerTunnel, rep int) string {
	return filepath.Join(RawDirName, safeName(series),
		"t"+strconv.Itoa(tunnels)+"-f"+strconv.Itoa(flowsPerTunnel),
		"rep"+strconv.Itoa(rep))
}

// DefaultDir returns the default run folder for a scenario started at t:
// <root>/<UTC yyyymmdd-hhmmss>-<scenario>, for example
// runs/20261121-221500-multi-tunnel. The scenario name is reduced to
// letters, digits, '.', '_' and '-', other runs of characters becoming one
// '-', and is "run" when nothing is left.
func DefaultDir(root, scenario string, t time.Time) string {
	return filepath.Join(root, t.UTC().Format("20060102-150405")+"-"+safeName(scenario))
}

// maxNameLen bounds a name made safe by safeName.
const maxNameLen = 64

// safeName reduces s to characters safe in a file name on any system.
func safeName(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
			dash = c == '-'
		default:
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
		if b.Len() >= maxNameLen {
			break
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "run"
	}
	return out
}
