package admission

import (
	"bytes"
	"io"
	"net/http"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWebhook sends 1,000 AdmissionReviews (a pod with two containers
// and an init container, all digest-pinned, signed and attested) at 50
// concurrent over HTTPS on loopback per iteration, and reports the p50 and
// p99 latency: "hit" with the decision cache warm, "miss" without a cache
// (every image resolved, verified and its attestation checked against the
// in-process registry). Run with -benchtime 1x; bench/webhook.sh does.
func BenchmarkWebhook(b *testing.B) {
	w := newWorld(b)
	repl := map[string]string{"APP": w.image(b, "web", true, 0), "SIDECAR": w.image(b, "proxy", true, 0), "INIT": w.image(b, "migrate", true, 0)}
	body := fixture(b, "pod-multi.json", repl)
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"hit", time.Hour}, {"miss", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			url, client := serveTLS(b, NewWebhook(w.policy(), Options{Timeout: 8 * time.Second, CacheTTL: bc.ttl}))
			// Warm the connection pool with as many connections as will be
			// in flight (the API server keeps its connections to a webhook
			// open; a TLS handshake per new connection is not a decision's
			// cost), and the cache for "hit".
			load(b, client, url, body, 50, 50)
			cpu0 := cpuTime()
			b.ResetTimer()
			var all []time.Duration
			for range b.N {
				all = append(all, load(b, client, url, body, 1000, 50)...)
			}
			b.StopTimer()
			// CPU of the whole process (client, webhook and registry) per
			// request: on a shared machine wall latency mostly measures
			// waiting for a core.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(all)), "cpu-ms/req")
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(q(1), "max-ms")
		})
	}
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load sends n requests with c in flight and returns each one's latency.
func load(b *testing.B, client *http.Client, url string, body []byte, n, c int) []time.Duration {
	lat := make([]time.Duration, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				send(b, client, url, body)
				lat[i] = time.Since(start)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return lat
}

func send(b *testing.B, client *http.Client, url string, body []byte) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"allowed":true`)) {
		b.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
}
