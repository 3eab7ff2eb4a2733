package symbolize

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// maxCachedImages bounds the process-wide image cache. A collection pass
// needs a handful (the executable, libc, a few libraries); more distinct
// images than this in one process are read again when they come back.
const maxCachedImages = 32

// The image cache keeps, for the life of the process, what opening an image
// file yields (symbols, the Go pc-line table, the line index built on first
// use), so that the reports of one pass, and of later passes, pay for an
// image once. An entry is keyed by the recorded identity and path and
// served only while the path still names the very file it was read from
// (same device and inode, size and modification time) and the files it
// keeps open are unchanged: a different binary at the same path, or the
// same build-id at another path, is read from disk and checked as if
// nothing were cached. What a Symbolizer places per process (bias, the
// Go text start) is never shared.
var imageCache = &objectCache{entries: map[cacheKey]*cacheEntry{}}

type cacheKey struct {
	format, id, path, debugDirs string
}

func keyOf(img *image, debugDirs []string) cacheKey {
	return cacheKey{format: img.format, id: string(img.id), path: img.rec.Path, debugDirs: strings.Join(debugDirs, "\x00")}
}

type objectCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	tick    uint64
	hits    int // for tests
}

// cacheEntry is one opened image file.
type cacheEntry struct {
	key   cacheKey
	obj   *object     // the template each user gets a copy of
	path  os.FileInfo // the path as it was when the file was opened
	files []fileState // the open files the object reads lazily
	refs  int         // users that have not closed their copy
	used  uint64
	gone  bool // out of the cache: close once unused
}

type fileState struct {
	f     *os.File
	size  int64
	mtime time.Time
}

func fileStates(closers []io.Closer) ([]fileState, bool) {
	var out []fileState
	for _, c := range closers {
		f, ok := c.(*os.File)
		if !ok {
			return nil, false
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, false
		}
		out = append(out, fileState{f: f, size: fi.Size(), mtime: fi.ModTime()})
	}
	return out, true
}

// fresh reports whether e may still be served for its path.
func (e *cacheEntry) fresh() bool {
	li, err := os.Lstat(e.key.path)
	if err != nil || !os.SameFile(li, e.path) || li.Size() != e.path.Size() || !li.ModTime().Equal(e.path.ModTime()) {
		return false
	}
	for _, fs := range e.files {
		fi, err := fs.f.Stat()
		if err != nil || fi.Size() != fs.size || !fi.ModTime().Equal(fs.mtime) {
			return false
		}
	}
	return true
}

// get returns a copy of the cached object for key, or nil.
func (c *objectCache) get(key cacheKey) *object {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		return nil
	}
	if !e.fresh() {
		c.drop(e)
		return nil
	}
	c.hits++
	return c.use(e)
}

// put caches o, just opened from the file at key.path that is (as
// openRegular checked) pathInfo, and returns the copy its opener uses. An
// object that cannot be cached is returned as it is.
func (c *objectCache) put(key cacheKey, pathInfo os.FileInfo, o *object) *object {
	files, ok := fileStates(o.closers)
	if !ok || pathInfo == nil {
		return o
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[key]; old != nil {
		c.drop(old)
	}
	e := &cacheEntry{key: key, obj: o, path: pathInfo, files: files}
	c.entries[key] = e
	c.evict()
	return c.use(e)
}

func (c *objectCache) use(e *cacheEntry) *object {
	c.tick++
	e.used = c.tick
	e.refs++
	cp := *e.obj
	if g := cp.gopcln; g != nil {
		// The Go text start is placed per process.
		gc := *g
		cp.gopcln = &gc
	}
	cp.closers = nil
	cp.entry = e
	return &cp
}

// evict drops the least recently used entries above the cap.
func (c *objectCache) evict() {
	for len(c.entries) > maxCachedImages {
		var lru *cacheEntry
		for _, e := range c.entries {
			if lru == nil || e.used < lru.used {
				lru = e
			}
		}
		c.drop(lru)
	}
}

// drop takes e out of the cache; its files close when its last user is
// done with it.
func (c *objectCache) drop(e *cacheEntry) {
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	e.gone = true
	if e.refs == 0 {
		e.closeFiles()
	}
}

func (c *objectCache) release(e *cacheEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.gone {
		return e.closeFiles()
	}
	return nil
}

func (e *cacheEntry) closeFiles() error {
	var errs []error
	for _, fs := range e.files {
		if err := fs.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	e.files = nil
	return errors.Join(errs...)
}

// reset empties the cache (tests: a cold start).
func (c *objectCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		c.drop(e)
	}
	c.hits = 0
}
