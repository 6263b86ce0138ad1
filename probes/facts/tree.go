package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLinks bounds the symbolic links followed while resolving one path.
const maxLinks = 40

// tree reads the files of a host below a root directory ("/" for the live
// host, or a snapshot). Paths are relative to the root ("sys/class/net")
// and symbolic links are resolved inside the root, also absolute ones, so
// a snapshot taken elsewhere reads like the machine it came from.
//
// When rec is set every file, directory and link the reader touches is
// copied into rec's directory as it is read: reading the facts is how a
// snapshot learns which files it needs.
type tree struct {
	root string
	rec  *recorder
}

// recorder mirrors what a tree reads into a snapshot directory.
type recorder struct {
	out string
	// filters rewrite a file's content before it is stored (to keep only
	// what the facts use of files that may carry more).
	filters map[string]func([]byte) []byte
	errs    []error
}

func (t *tree) abs(rel string) string { return filepath.Join(t.root, rel) }

// resolve returns the real path of rel, relative to the root, following
// symbolic links component by component. When recording, the directories
// and links on the way are created in the snapshot.
func (t *tree) resolve(rel string) (string, error) {
	return t.resolveN(rel, 0)
}

func (t *tree) resolveN(rel string, depth int) (string, error) {
	if depth > maxLinks {
		return "", fmt.Errorf("%s: too many levels of symbolic links", rel)
	}
	cur := ""
	parts := strings.Split(filepath.Clean("/" + rel)[1:], "/")
	for i, p := range parts {
		if p == "" {
			continue
		}
		next := filepath.Join(cur, p)
		fi, err := os.Lstat(t.abs(next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if fi.IsDir() || i < len(parts)-1 {
				t.rec.mkdir(next)
			}
			cur = next
			continue
		}
		target, err := os.Readlink(t.abs(next))
		if err != nil {
			return "", err
		}
		t.rec.symlink(next, target)
		var dest string
		if filepath.IsAbs(target) {
			dest = filepath.Clean(target)[1:]
		} else {
			dest = filepath.Join(cur, target)
		}
		if dest == ".." || strings.HasPrefix(dest, "../") {
			return "", fmt.Errorf("%s: link leaves the tree", next)
		}
		if cur, err = t.resolveN(dest, depth+1); err != nil {
			return "", err
		}
	}
	return cur, nil
}

// read returns the content of the file rel with surrounding white space
// trimmed.
func (t *tree) read(rel string) (string, error) {
	b, err := t.readBytes(rel)
	return strings.TrimSpace(string(b)), err
}

// readBytes returns the content of the file rel.
func (t *tree) readBytes(rel string) ([]byte, error) {
	real, err := t.resolve(rel)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(t.abs(real))
	if err != nil {
		return nil, err
	}
	t.rec.file(real, b)
	return b, nil
}

// exists reports whether rel exists.
func (t *tree) exists(rel string) bool {
	real, err := t.resolve(rel)
	if err != nil {
		return false
	}
	fi, err := os.Stat(t.abs(real))
	if err != nil {
		return false
	}
	if !fi.IsDir() {
		t.rec.placeholder(real)
	}
	return true
}

// readDir lists the directory rel. When recording, entries the facts do
// not read further are kept as empty placeholders, so the listing reads
// the same in the snapshot.
func (t *tree) readDir(rel string) ([]fs.DirEntry, error) {
	real, err := t.resolve(rel)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(t.abs(real))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		p := filepath.Join(real, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			if target, err := os.Readlink(t.abs(p)); err == nil {
				t.rec.symlink(p, target)
			}
		case e.IsDir():
			t.rec.mkdir(p)
		default:
			t.rec.placeholder(p)
		}
	}
	return ents, nil
}

// readlink returns the target of the link rel (not followed further).
func (t *tree) readlink(rel string) (string, error) {
	dir, err := t.resolve(filepath.Dir(rel))
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, filepath.Base(rel))
	target, err := os.Readlink(t.abs(p))
	if err != nil {
		return "", err
	}
	t.rec.symlink(p, target)
	return target, nil
}

// The recorder's methods do nothing on a nil recorder, so the reader
// calls them unconditionally.

func (r *recorder) fail(err error) {
	if err != nil && !errors.Is(err, fs.ErrExist) {
		r.errs = append(r.errs, err)
	}
}

func (r *recorder) mkdir(rel string) {
	if r == nil {
		return
	}
	p := filepath.Join(r.out, rel)
	if fi, err := os.Lstat(p); err == nil && (fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0) {
		return
	}
	r.fail(os.MkdirAll(p, 0o755))
}

func (r *recorder) symlink(rel, target string) {
	if p, ok := r.fresh(rel); ok {
		r.fail(os.Symlink(target, p))
	}
}

func (r *recorder) file(rel string, data []byte) {
	if r == nil {
		return
	}
	if f := r.filters[rel]; f != nil {
		data = f(data)
	}
	r.mkdir(filepath.Dir(rel))
	r.fail(os.WriteFile(filepath.Join(r.out, rel), data, 0o644))
}

// placeholder creates an empty file unless rel is already there.
func (r *recorder) placeholder(rel string) {
	if p, ok := r.fresh(rel); ok {
		r.fail(os.WriteFile(p, nil, 0o644))
	}
}

// fresh is where rel goes in the snapshot, with its folder made, and
// whether it is still to be written: not when r records nothing or rel is
// already there.
func (r *recorder) fresh(rel string) (string, bool) {
	if r == nil {
		return "", false
	}
	p := filepath.Join(r.out, rel)
	if _, err := os.Lstat(p); err == nil {
		return "", false
	}
	r.mkdir(filepath.Dir(rel))
	return p, true
}

// extra stores a file the live host has no file for (ethtool answers,
// tool versions) under the snapshot's wgbench/ folder.
func (r *recorder) extra(rel string, data []byte) {
	if r == nil {
		return
	}
	r.file(filepath.Join(extraDir, rel), data)
}
