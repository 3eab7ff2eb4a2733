package crashguard

import (
	"crypto/tls"
	"net/http"
	"net/url"

	"github.com/getsentry/sentry-go"
)

// httpClient is the client crash reports are posted with: the one sentry-go
// would use for the same ClientOptions, with sentry-go's precedence
// (sentry-go v0.50 transport.go, HTTPTransport.Configure): HTTPClient as
// it is; else a client over HTTPTransport; else over a transport whose
// proxy is HTTPSProxy, else HTTPProxy, else the environment
// (http.ProxyFromEnvironment: HTTPS_PROXY, HTTP_PROXY, NO_PROXY), and whose
// TLS roots are CaCerts when set. So a program set up for a proxy or a
// private CA sends its crashes the way it sends its other events. The
// deprecated Options.HTTPClient, when set, still wins.
//
// Unlike sentry-go's, the client has no overall Timeout: each post is bounded
// by its context (Flush's deadline, or the transport's 30 s).
func httpClient(opts Options) *http.Client {
	if opts.HTTPClient != nil {
		return opts.HTTPClient
	}
	o := opts.Sentry
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	if o.HTTPTransport != nil {
		return &http.Client{Transport: o.HTTPTransport}
	}
	t := &http.Transport{Proxy: proxyFunc(o)}
	if o.CaCerts != nil {
		// sentry-go sets only RootCAs; the minimum version is Go's default.
		t.TLSClientConfig = &tls.Config{RootCAs: o.CaCerts}
	}
	return &http.Client{Transport: t}
}

// proxyFunc is sentry-go's getProxyConfig: HTTPSProxy for every request
// when set, else HTTPProxy, else the environment's.
func proxyFunc(o sentry.ClientOptions) func(*http.Request) (*url.URL, error) {
	for _, p := range []string{o.HTTPSProxy, o.HTTPProxy} {
		if p != "" {
			return func(*http.Request) (*url.URL, error) { return url.Parse(p) }
		}
	}
	return http.ProxyFromEnvironment
}
