//go:build cgo

package scopesnap

// parkWhenIdle: with cgo Go's deadlock detector never fires, so a pending
// timer hides nothing and the snapshotter keeps looking every second.
const parkWhenIdle = false
