// Command labels shows the Go way to get per-request context into crash
// reports: HTTP middleware that runs each request under runtime/pprof
// labels, which crashguard turns into tags ("label.request_id") and a
// context of the crash event of the goroutine that died under them.
//
//	go run ./examples/labels                     # one request to itself, prints, exits 0
//	go run ./examples/labels -serve              # serve on 127.0.0.1:8080 until Ctrl-C
//	go run ./examples/labels -crash goroutine    # a goroutine the handler started panics
//	go run ./examples/labels -crash map          # concurrent map writes in the handler
//
// It never listens beyond 127.0.0.1 and sends nothing anywhere unless
// SENTRY_DSN is set; it crashes only when -crash asks. After a crash, the
// next run delivers the report (or keeps it in the outbox without a DSN).
//
// What to know about labels in crashes:
//   - Go 1.26 prints labels in crash output only with
//     GODEBUG=tracebacklabels=1 (the default from Go 1.27 for modules that
//     declare go 1.27 or later). The runtime reads GODEBUG again when the
//     program sets it, so main turns it on before Install; child processes
//     inherit it.
//   - net/http recovers a panic in a handler: that is no crash. Crashes
//     under a request's labels come from goroutines the handler starts
//     (they inherit the labels) and from fatal errors in the handler
//     (concurrent map writes, out of memory), which run no deferred call.
//     A panic right inside pprof.Do's function outside net/http unwinds
//     pprof.Do's deferred restore first, so its crash shows the labels from
//     before pprof.Do.
//   - Labels are sent as set: keep secrets and personal data out of them.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/crashguard/crashguard-go/crashguard"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on with -serve (loopback only)")
	serve := flag.Bool("serve", false, "serve until interrupted instead of sending one request to itself")
	crash := flag.String("crash", "", `crash while serving the request: "goroutine" or "map"`)
	flag.Parse()
	if *crash != "" && *crash != "goroutine" && *crash != "map" {
		log.Fatalf("labels: -crash %q: want goroutine or map", *crash)
	}
	enableTracebackLabels()

	g, err := crashguard.Install(crashguard.Options{
		Sentry: sentry.ClientOptions{Dsn: os.Getenv("SENTRY_DSN"), Release: "labels-example@1.0.0"},
	})
	if err != nil {
		log.Print(err)
	}
	defer g.Flush(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("/work", work)
	srv := &http.Server{Handler: withRequestLabels(mux), ReadHeaderTimeout: 5 * time.Second}

	listenOn := "127.0.0.1:0"
	if *serve {
		listenOn = *addr
	}
	ln, err := listenLoopback(listenOn)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()
	defer srv.Shutdown(context.Background())

	url := "http://" + ln.Addr().String() + "/work"
	if *serve {
		fmt.Printf("labels: serving %s (try: curl -H 'X-Request-Id: r-17' '%s?crash=goroutine')\n", url, url)
		stop, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
		defer cancel()
		<-stop.Done()
		return
	}
	if *crash != "" {
		url += "?crash=" + *crash
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Request-Id", "r-17")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("labels: %s", body)
	if *crash != "" {
		time.Sleep(5 * time.Second) // the crash ends the process before this
	}
}

// withRequestLabels runs each request under the runtime/pprof labels
// request_id (the X-Request-Id header, or a new id) and route. Goroutines
// the handler starts inherit them; crashguard reports the crashed
// goroutine's labels as label.request_id and label.route tags.
func withRequestLabels(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		labels := pprof.Labels("request_id", id, "route", r.URL.Path)
		pprof.Do(r.Context(), labels, func(ctx context.Context) {
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	})
}

// work answers, and crashes when the request asks and the program was
// started with -crash (the query alone is not enough).
func work(w http.ResponseWriter, r *http.Request) {
	id, _ := pprof.Label(r.Context(), "request_id")
	mode := r.URL.Query().Get("crash")
	if mode == "" || !crashAllowed(mode) {
		fmt.Fprintf(w, "request %s done\n", id)
		return
	}
	fmt.Fprintf(w, "request %s crashing (%s)\n", id, mode)
	w.(http.Flusher).Flush()
	switch mode {
	case "goroutine":
		// A goroutine started here inherits the request's labels.
		go func() { panic("labels example: background job of request " + id + " failed") }()
	case "map":
		// A fatal error: no deferred call runs, the labels stay.
		m := map[int]int{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					m[i%64] = i
				}
			}()
		}
		wg.Wait()
	}
}

// crashAllowed: only the mode given with -crash.
func crashAllowed(mode string) bool {
	f := flag.Lookup("crash")
	return f != nil && f.Value.String() == mode
}

// enableTracebackLabels sets GODEBUG=tracebacklabels=1 unless GODEBUG
// already says tracebacklabels: Go 1.26 prints labels in crash output only
// then, and reads GODEBUG again when it is set.
func enableTracebackLabels() {
	cur := os.Getenv("GODEBUG")
	if strings.Contains(cur, "tracebacklabels=") {
		return
	}
	if cur != "" {
		cur += ","
	}
	os.Setenv("GODEBUG", cur+"tracebacklabels=1")
}

// listenLoopback listens on addr, which must be a loopback address.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("labels: -addr %s: loopback addresses only", addr)
	}
	return net.Listen("tcp", addr)
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
