package sentrytest

import (
	"errors"
	"net/http"
	"strings"
)

// auth is what a request authenticates with.
type auth struct {
	key     string
	version string
	client  string
}

// parseAuth finds the request's credentials where Relay looks for them: the
// X-Sentry-Auth header, an "Authorization: Sentry ..." header, or the query
// string (sentry_key=...&sentry_version=...), which browser SDKs use.
func parseAuth(r *http.Request) (auth, error) {
	h := r.Header.Get("X-Sentry-Auth")
	if h == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "sentry ") {
			h = a
		}
	}
	if h != "" {
		return parseAuthHeader(h)
	}
	q := r.URL.Query()
	if q.Get("sentry_key") != "" {
		return auth{key: q.Get("sentry_key"), version: q.Get("sentry_version"), client: q.Get("sentry_client")}, nil
	}
	return auth{}, errors.New("missing authorization information")
}

// parseAuthHeader parses "Sentry sentry_version=7, sentry_key=..., ...".
func parseAuthHeader(h string) (auth, error) {
	scheme, params, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "sentry") {
		return auth{}, errors.New(`auth header does not start with "Sentry "`)
	}
	var a auth
	for _, p := range strings.Split(params, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return auth{}, errors.New("auth header: parameter without value: " + p)
		}
		switch strings.TrimSpace(k) {
		case "sentry_key":
			a.key = strings.TrimSpace(v)
		case "sentry_version":
			a.version = strings.TrimSpace(v)
		case "sentry_client":
			a.client = strings.TrimSpace(v)
		}
	}
	if a.key == "" {
		return auth{}, errors.New("auth header: no sentry_key")
	}
	return a, nil
}
