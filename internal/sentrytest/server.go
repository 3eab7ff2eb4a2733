package sentrytest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/crashguard/crashguard-go/internal/sentryschema"
)

// MaxBodySize is the largest request body the receiver reads; a larger one
// is answered 413.
const MaxBodySize = 20 << 20

// Server is the test receiver. Create it with New and Close it when done.
// All methods are safe for concurrent use.
type Server struct {
	key     string
	project string
	url     string
	ln      net.Listener
	srv     *http.Server
	closing chan struct{}
	once    sync.Once
	active  sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	received   []Received
	rejections []Rejection
	counts     Counts
	faults     []fault
	delay      time.Duration
	rateLimits string
	limits     Limits
	// changed is closed (and replaced) whenever something is recorded, so
	// that waiters wake without polling.
	changed chan struct{}
}

// Received is one accepted envelope.
type Received struct {
	// EventID is the envelope header's event_id, or the event's.
	EventID string
	// Event is the parsed event item (numbers as json.Number), nil when the
	// envelope carried no event.
	Event map[string]any
	// Raw is the event item's payload as sent.
	Raw         []byte
	Attachments []Attachment
	// Sessions are the session aggregates of "sessions" items, one per
	// bucket, each with its item's attrs (checked: release present,
	// started a timestamp, counts non-negative integers).
	Sessions []SessionBucket
	// Header is the HTTP request header.
	Header http.Header
	// BodySize is the size of the request body as it came over the wire
	// (compressed when ContentEncoding is set), DecodedSize after decoding.
	BodySize, DecodedSize int
	// ContentEncoding is the request's Content-Encoding ("" for none).
	ContentEncoding string
	// SchemaErr is why the event does not validate against Sentry's event
	// schema (sentryschema), nil when it does. The receiver accepts such an
	// event, as Relay would normalize it, but tests assert SchemaErr is nil.
	SchemaErr error
}

// Attachment is one attachment item.
type Attachment struct {
	Filename       string
	ContentType    string
	AttachmentType string
	Data           []byte
}

// Rejection is a request the receiver refused because it was invalid.
type Rejection struct {
	Status int
	Reason string
}

// Counts counts requests by the answer they got.
type Counts struct {
	// Requests is every request that reached the receiver.
	Requests int
	// Accepted got 200 and were stored.
	Accepted int
	// Rejected got a 4xx other than 429: invalid requests and RejectNext.
	Rejected int
	// Failed got an injected status of 5xx (or another non-4xx) from FailNext.
	Failed int
	// RateLimited got an injected 429 from RateLimitNext.
	RateLimited int
	// Dropped had their connection closed without an answer (DropNext).
	Dropped int
	// Abandoned were given up by the client while Slow delayed them.
	Abandoned int
}

// New starts a receiver on 127.0.0.1 with a random port, public key and a
// fixed project id.
func New() *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("sentrytest: listen: %v", err))
	}
	return serve(ln, "http://")
}

// serve runs a receiver on ln, whose URLs start with scheme.
func serve(ln net.Listener, scheme string) *Server {
	var k [16]byte
	_, _ = rand.Read(k[:])
	s := &Server{
		key:     hex.EncodeToString(k[:]),
		project: "42",
		url:     scheme + ln.Addr().String(),
		ln:      ln,
		closing: make(chan struct{}),
		changed: make(chan struct{}),
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second,
		// Refused handshakes and dropped connections are what tests cause
		// on purpose; the receiver's counts say what happened.
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// URL is the server's base URL, "http://127.0.0.1:port" ("https://" for
// NewTLS).
func (s *Server) URL() string { return s.url }

// Key is the public key the receiver accepts.
func (s *Server) Key() string { return s.key }

// DSN is the DSN that sends to this receiver:
// "http://<key>@127.0.0.1:<port>/<project>".
func (s *Server) DSN() string {
	scheme, host, _ := strings.Cut(s.url, "://")
	return scheme + "://" + s.key + "@" + host + "/" + s.project
}

// EnvelopePath is the only path the receiver answers: /api/<project>/envelope/.
func (s *Server) EnvelopePath() string { return "/api/" + s.project + "/envelope/" }

// Close stops the server, ends delayed answers at once, and waits for the
// handlers to return.
func (s *Server) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true // no handler starts counting as active after this
		s.mu.Unlock()
		close(s.closing)
		_ = s.srv.Close()
		s.active.Wait()
	})
}

// Events returns the accepted envelopes that carried an event, in arrival order.
func (s *Server) Events() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eventsLocked()
}

func (s *Server) eventsLocked() []Received {
	var out []Received
	for _, r := range s.received {
		if r.Event != nil {
			out = append(out, r)
		}
	}
	return out
}

// SessionBuckets returns every session aggregate bucket received so far.
func (s *Server) SessionBuckets() []SessionBucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SessionBucket
	for _, r := range s.received {
		out = append(out, r.Sessions...)
	}
	return out
}

// Envelopes returns every accepted envelope, with or without an event.
func (s *Server) Envelopes() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Rejections returns the refused invalid requests, in arrival order.
func (s *Server) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejections...)
}

// Counts returns the request counts so far. A request is counted before its
// answer is written, so once a client has its answer the count is there.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// WaitEvents blocks until at least n events have arrived and returns them
// all, or returns the events so far and ctx's error.
func (s *Server) WaitEvents(ctx context.Context, n int) ([]Received, error) {
	var got []Received
	err := s.wait(ctx, func() bool {
		got = s.eventsLocked()
		return len(got) >= n
	})
	if err != nil {
		return got, fmt.Errorf("sentrytest: waiting for %d events, have %d: %w", n, len(got), err)
	}
	return got, nil
}

// WaitRequests blocks until at least n requests have been answered (or
// dropped, or abandoned).
func (s *Server) WaitRequests(ctx context.Context, n int) error {
	var c Counts
	err := s.wait(ctx, func() bool {
		c = s.counts
		return c.Accepted+c.Rejected+c.Failed+c.RateLimited+c.Dropped+c.Abandoned >= n
	})
	if err != nil {
		return fmt.Errorf("sentrytest: waiting for %d requests, have %+v: %w", n, c, err)
	}
	return nil
}

// wait calls done under the lock each time something is recorded until it
// returns true.
func (s *Server) wait(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		ok := done()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes all waiters.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// serve handles one request: delay, read, injected fault, validation, store.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		panic(http.ErrAbortHandler) // no answer at all, not an implicit 200
	}
	// Added under the lock, so never concurrently with Close's Wait.
	s.active.Add(1)
	defer s.active.Done()
	s.counts.Requests++
	s.notifyLocked()
	delay := s.delay
	s.mu.Unlock()

	// Read the body first, so that even a dropped request was sent whole.
	body, readErr := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.record(func() { s.counts.Abandoned++ })
			return
		case <-s.closing:
			t.Stop()
			s.record(func() { s.counts.Abandoned++ })
			// Returning would make net/http send an implicit 200; this
			// closes the connection with no answer instead.
			panic(http.ErrAbortHandler)
		}
	}

	if f, ok := s.nextFault(); ok {
		s.inject(w, f)
		return
	}

	if readErr != nil {
		s.reject(w, http.StatusBadRequest, "reading body: "+readErr.Error())
		return
	}
	if len(body) > MaxBodySize {
		s.reject(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodySize))
		return
	}
	if status, reason := s.checkRequest(r); status != 0 {
		s.reject(w, status, reason)
		return
	}
	wire := len(body)
	body, err := decodeBody(r.Header.Get("Content-Encoding"), body)
	if err != nil {
		s.reject(w, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	rec, err := parseReceived(body)
	if err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	rec.Header = r.Header.Clone()
	rec.BodySize, rec.DecodedSize = wire, len(body)
	rec.ContentEncoding = r.Header.Get("Content-Encoding")
	s.mu.Lock()
	limits := s.limits
	s.mu.Unlock()
	if why := limits.exceeded(rec); why != "" {
		// Relay's check_envelope_size_limits refuses the whole envelope.
		s.reject(w, http.StatusRequestEntityTooLarge, "envelope exceeded size limits: "+why)
		return
	}

	s.mu.Lock()
	s.received = append(s.received, rec)
	s.counts.Accepted++
	rateLimits := s.rateLimits
	s.notifyLocked()
	s.mu.Unlock()

	if rateLimits != "" {
		w.Header().Set("X-Sentry-Rate-Limits", rateLimits)
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": rec.EventID})
}

// checkRequest checks path, method, auth and content type, returning the
// status and reason of the first problem, or 0.
func (s *Server) checkRequest(r *http.Request) (int, string) {
	if r.URL.Path != s.EnvelopePath() {
		return http.StatusNotFound, "unknown path " + r.URL.Path
	}
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "method " + r.Method + " not allowed"
	}
	a, err := parseAuth(r)
	if err != nil {
		return http.StatusUnauthorized, err.Error()
	}
	if a.key != s.key {
		return http.StatusUnauthorized, "unknown sentry_key " + a.key
	}
	if a.version != "7" {
		return http.StatusUnauthorized, fmt.Sprintf("sentry_version %q, want 7", a.version)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-sentry-envelope" {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q, want application/x-sentry-envelope", r.Header.Get("Content-Type"))
	}
	return 0, ""
}

// decodeBody undoes a Content-Encoding Relay accepts; gzip is the one SDKs use.
func decodeBody(enc string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, MaxBodySize+1))
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		if len(out) > MaxBodySize {
			return nil, fmt.Errorf("decompressed body larger than %d bytes", MaxBodySize)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %q", enc)
}

// parseReceived parses and checks the envelope's contents.
func parseReceived(body []byte) (Received, error) {
	env, err := ParseEnvelope(body)
	if err != nil {
		return Received{}, err
	}
	var rec Received
	rec.EventID, _ = env.Header["event_id"].(string)
	if rec.EventID != "" && !sentryschema.IsUUID(rec.EventID) {
		return Received{}, fmt.Errorf("envelope header event_id %q is not a UUID", rec.EventID)
	}
	for i, it := range env.Items {
		switch it.Type {
		case "event":
			if rec.Event != nil {
				return Received{}, errors.New("more than one event item")
			}
			ev, err := decodeObject(it.Payload)
			if err != nil {
				return Received{}, fmt.Errorf("item %d: event payload: %w", i, err)
			}
			id, _ := ev["event_id"].(string)
			switch {
			case id != "" && !sentryschema.IsUUID(id):
				return Received{}, fmt.Errorf("event_id %q is not a UUID", id)
			case id != "" && rec.EventID != "" && normalizeID(id) != normalizeID(rec.EventID):
				return Received{}, fmt.Errorf("event_id %q differs from the envelope's %q", id, rec.EventID)
			case rec.EventID == "":
				rec.EventID = id
			}
			rec.Event, rec.Raw = ev, it.Payload
			rec.SchemaErr = sentryschema.Validate(it.Payload)
		case "sessions":
			b, err := parseSessions(it.Payload)
			if err != nil {
				return Received{}, fmt.Errorf("item %d: sessions: %w", i, err)
			}
			rec.Sessions = append(rec.Sessions, b...)
		case "attachment":
			a := Attachment{Data: it.Payload}
			a.Filename, _ = it.Header["filename"].(string)
			a.ContentType, _ = it.Header["content_type"].(string)
			a.AttachmentType, _ = it.Header["attachment_type"].(string)
			if a.Filename == "" {
				return Received{}, fmt.Errorf("item %d: attachment without filename", i)
			}
			rec.Attachments = append(rec.Attachments, a)
		}
	}
	return rec, nil
}

func normalizeID(id string) string { return strings.ToLower(strings.ReplaceAll(id, "-", "")) }

// reject answers an invalid request and keeps it for assertions.
func (s *Server) reject(w http.ResponseWriter, status int, reason string) {
	s.record(func() {
		s.counts.Rejected++
		s.rejections = append(s.rejections, Rejection{Status: status, Reason: reason})
	})
	writeJSON(w, status, map[string]string{"detail": reason})
}

// record applies f under the lock and wakes waiters.
func (s *Server) record(f func()) {
	s.mu.Lock()
	f()
	s.notifyLocked()
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
