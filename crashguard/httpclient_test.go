//go:build unix

package crashguard

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/sentrytest"
)

// countingTransport counts the requests it carries.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// forwardProxy is an HTTP forward proxy on 127.0.0.1 that counts what it
// forwards: a request in absolute form, passed on as it came.
func forwardProxy(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		n.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(p.Close)
	return p, &n
}

// flushWith delivers one crash left in a fresh directory with opts (the DSN
// is set here) and returns Flush's error.
func flushWith(t *testing.T, recv *sentrytest.Server, opts Options) error {
	t.Helper()
	dir := t.TempDir()
	crashOnce(t, testprogCgo(t, "gocrash", false), dir)
	opts.Dir = dir
	opts.Sentry.Dsn = recv.DSN()
	s := resolve(opts)
	require.NoError(t, s.dsnErr)
	s.dirs = []string{dir}
	g, err := open(opts, s)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return g.Flush(ctx)
}

func TestSentryTransportOptionsCarryOver(t *testing.T) {
	t.Run("HTTPProxy", func(t *testing.T) {
		recv := sentrytest.New()
		t.Cleanup(recv.Close)
		proxy, n := forwardProxy(t)
		require.NoError(t, flushWith(t, recv, Options{Sentry: sentry.ClientOptions{HTTPProxy: proxy.URL}}))
		assert.Len(t, recv.Events(), 1)
		assert.Equal(t, int32(1), n.Load(), "the post went through the proxy")
	})
	t.Run("HTTPSProxy wins over HTTPProxy", func(t *testing.T) {
		recv := sentrytest.New()
		t.Cleanup(recv.Close)
		proxy, n := forwardProxy(t)
		other, m := forwardProxy(t)
		require.NoError(t, flushWith(t, recv, Options{Sentry: sentry.ClientOptions{HTTPSProxy: proxy.URL, HTTPProxy: other.URL}}))
		assert.Len(t, recv.Events(), 1)
		assert.Equal(t, int32(1), n.Load())
		assert.Equal(t, int32(0), m.Load())
	})
	t.Run("HTTPTransport", func(t *testing.T) {
		recv := sentrytest.New()
		t.Cleanup(recv.Close)
		tr := &countingTransport{}
		proxy, n := forwardProxy(t)
		// HTTPTransport wins over the proxy options, as in sentry-go.
		require.NoError(t, flushWith(t, recv, Options{Sentry: sentry.ClientOptions{HTTPTransport: tr, HTTPProxy: proxy.URL}}))
		assert.Len(t, recv.Events(), 1)
		assert.Equal(t, int32(1), tr.n.Load())
		assert.Equal(t, int32(0), n.Load())
	})
	t.Run("HTTPClient", func(t *testing.T) {
		recv := sentrytest.New()
		t.Cleanup(recv.Close)
		tr, other := &countingTransport{}, &countingTransport{}
		require.NoError(t, flushWith(t, recv, Options{Sentry: sentry.ClientOptions{
			HTTPClient: &http.Client{Transport: tr}, HTTPTransport: other}}))
		assert.Len(t, recv.Events(), 1)
		assert.Equal(t, int32(1), tr.n.Load())
		assert.Equal(t, int32(0), other.n.Load())
	})
	t.Run("deprecated Options.HTTPClient still wins", func(t *testing.T) {
		recv := sentrytest.New()
		t.Cleanup(recv.Close)
		tr, other := &countingTransport{}, &countingTransport{}
		require.NoError(t, flushWith(t, recv, Options{HTTPClient: &http.Client{Transport: tr},
			Sentry: sentry.ClientOptions{HTTPClient: &http.Client{Transport: other}}}))
		assert.Equal(t, int32(1), tr.n.Load())
		assert.Equal(t, int32(0), other.n.Load())
	})
	t.Run("CaCerts", func(t *testing.T) {
		recv, pool := sentrytest.NewTLS()
		t.Cleanup(recv.Close)
		// Without the private CA the handshake fails and the report stays.
		err := flushWith(t, recv, Options{})
		assert.ErrorIs(t, err, ErrNotDelivered)
		assert.ErrorContains(t, err, "certificate")
		assert.Empty(t, recv.Events())
		// With it, the crash arrives.
		require.NoError(t, flushWith(t, recv, Options{Sentry: sentry.ClientOptions{CaCerts: pool}}))
		assert.Len(t, recv.Events(), 1)
	})
}
