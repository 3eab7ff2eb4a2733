package flightrec

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setHeaderU64 writes a header field of the file at path, as the native
// layer does through its mapping.
func setHeaderU64(t *testing.T, path string, off int, v uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err = f.WriteAt(b[:], int64(off))
	require.NoError(t, err)
}

func TestUnusedRecorderIsReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.flight")
	require.NoError(t, Create(path))
	ok, err := Unused(path)
	require.NoError(t, err)
	assert.True(t, ok)

	// What a native install leaves in a recorder with no fault: image
	// count, layers, Go text bounds, another pid and start time.
	setHeaderU64(t, path, hPID, 1)
	setHeaderU64(t, path, hStartTime, 42)
	setHeaderU64(t, path, hGoTextStart, 0x1000)
	setHeaderU64(t, path, hImageCount, 3|7<<32) // image_count 3, layers 7
	before, err := os.Stat(path)
	require.NoError(t, err)

	start := time.Now()
	require.NoError(t, Create(path), "an unused recorder is taken over")
	after, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "the same file, header rewritten")
	f, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), f.Header.PID)
	assert.WithinDuration(t, start, f.Header.StartTime, time.Minute)
	assert.Zero(t, f.Header.GoTextStart)
	assert.Zero(t, f.Header.ImageCount)
	assert.Zero(t, f.Header.Layers)
	assert.Zero(t, f.Header.NextSeq)
	assert.Empty(t, f.Images)
	assert.Empty(t, f.Records)
}

func TestUsedOrForeignRecorderIsNeverReused(t *testing.T) {
	dir := t.TempDir()
	used := filepath.Join(dir, "used.flight")
	require.NoError(t, Create(used))
	setHeaderU64(t, used, hNextSeq, 1) // a record was claimed: evidence
	ok, err := Unused(used)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.ErrorIs(t, Create(used), os.ErrExist)
	h, err := ReadFile(used)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), h.Header.NextSeq, "left as it was")

	small := filepath.Join(dir, "small.flight")
	require.NoError(t, CreateWith(small, Config{Records: 2}))
	ok, err = Unused(small)
	require.NoError(t, err)
	assert.False(t, ok, "another layout")
	assert.ErrorIs(t, CreateWith(small, Config{Records: 2}), os.ErrExist)

	zeros := filepath.Join(dir, "zeros.flight")
	require.NoError(t, os.WriteFile(zeros, make([]byte, FileSize(DefaultRecords, DefaultImageCapacity())), 0o600))
	ok, err = Unused(zeros)
	require.NoError(t, err)
	assert.False(t, ok, "right size, no header")
	assert.ErrorIs(t, Create(zeros), os.ErrExist)

	_, err = Unused(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	if runtime.GOOS != "windows" {
		target := filepath.Join(dir, "target.flight")
		require.NoError(t, Create(target))
		link := filepath.Join(dir, "link.flight")
		require.NoError(t, os.Symlink(target, link))
		_, err = Unused(link)
		assert.Error(t, err, "a link is never followed")
		assert.Error(t, Create(link))
	}
}

// BenchmarkCreate measures a new recorder against taking over an unused
// one (what Install pays for the flight recorder file either way).
func BenchmarkCreate(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		dir := b.TempDir()
		i := 0
		for b.Loop() {
			if err := Create(filepath.Join(dir, "r"+strconv.Itoa(i))); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("reuse", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "r")
		require.NoError(b, Create(path))
		for b.Loop() {
			if err := Create(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
