//go:build !cgo

package scopesnap

// parkWhenIdle: without cgo Go's deadlock detector works, and a pending
// timer would silence it; the snapshotter parks when the scope is idle.
const parkWhenIdle = true
