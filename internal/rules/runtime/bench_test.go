package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/manifest"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// processCPU returns the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// kubeStream returns n Kubernetes objects as one multi-document stream:
// Deployments, StatefulSets, CronJobs and Services (skipped), with the
// usual securityContext, resources, env, ports and probes.
func kubeStream(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0, 1:
			kind := map[int]string{0: "Deployment", 1: "StatefulSet"}[i%4]
			fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: %s
metadata:
  name: app-%d
  labels: {app: app-%d, tier: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: app-%d}
  template:
    metadata:
      labels: {app: app-%d}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: app
          image: registry.example/team/app-%d:1.%d.0
          ports:
            - containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: info
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: db, key: password}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: ["ALL"]}
          resources:
            limits: {cpu: 500m, memory: 256Mi}
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
`, kind, i, i, i, i, i, i%50)
		case 2:
			fmt.Fprintf(&b, `---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: job-%d
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: job
              image: busybox:1.36
              args: ["sh", "-c", "date"]
`, i)
		default:
			fmt.Fprintf(&b, `---
apiVersion: v1
kind: Service
metadata:
  name: svc-%d
spec:
  selector: {app: app-%d}
  ports:
    - port: 80
      targetPort: 8080
`, i, i-3)
		}
	}
	return b.Bytes()
}

// BenchmarkKubeStream10k loads and checks a generated 10,000-object
// Kubernetes stream per iteration; objects/s (and per CPU-second) is the
// headline figure (run with GOMAXPROCS=1: bench/manifest.sh).
func BenchmarkKubeStream10k(b *testing.B) {
	const n = 10_000
	data := kubeStream(n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	objects := 0
	for i := 0; i < b.N; i++ {
		c := New(testOptions())
		st, err := manifest.Load(context.Background(), "bench.yaml", bytes.NewReader(data), manifest.Options{}, func(w *manifest.Workload) error {
			c.Check(w)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Finish()
		objects += st.Objects + len(st.Skips)
	}
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(objects)/cpu.Seconds(), "objects/cpu-s")
	}
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// BenchmarkComposeCorpus loads and checks every compose file of the shared
// corpus per iteration (compose-go interpolation, extends, validation).
func BenchmarkComposeCorpus(b *testing.B) {
	dir := testimages.SharedCorpus("compose", "KENSA_COMPOSE_CORPUS")
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	var files [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil {
			files = append(files, data)
		}
	}
	if len(files) == 0 {
		b.Skipf("no compose corpus in %s", dir)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	services, nfiles := 0, 0
	for i := 0; i < b.N; i++ {
		for _, data := range files {
			c := New(testOptions())
			st, err := manifest.Load(context.Background(), "compose.yaml", bytes.NewReader(data), manifest.Options{WorkingDir: dir}, func(w *manifest.Workload) error {
				c.Check(w)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			_ = c.Finish()
			services += st.Objects
			nfiles++
		}
	}
	b.ReportMetric(float64(nfiles)/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(float64(services)/b.Elapsed().Seconds(), "services/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(services)/cpu.Seconds(), "services/cpu-s")
	}
}
