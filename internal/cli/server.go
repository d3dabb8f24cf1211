package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/server"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/vulndb"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { extraCommands = append(extraCommands, newServerCmd) }

// serverOptions are the flags of `kensa server`.
type serverOptions struct {
	Database    string
	Listen      string
	Role        string
	Workers     int
	DBPath      string
	CacheDir    string
	Insecure    bool
	TLSCert     string
	TLSKey      string
	MaxUpload   int64
	AdminToken  string
	Lease       time.Duration
	JobTimeout  time.Duration
	MaxAttempts int
	WatchEvery  time.Duration
	// WebhookSecret also admits registry push notifications (see
	// server.APIOptions.WebhookSecret).
	WebhookSecret  string
	NotifyURL      string
	NotifySecret   string
	NotifyInterval time.Duration
	RescanEvery    time.Duration
	RescanBatch    int
	RegistryConc   []string
	RegistryDef    int
	GC             gcFlags
}

// gcFlags are the retention policy flags of `kensa server` and
// `kensa server gc`.
type gcFlags struct {
	Every     time.Duration
	KeepScans int
	MaxAge    int // days
}

func (g *gcFlags) add(f *pflag.FlagSet, periodic bool) {
	if periodic {
		f.DurationVar(&g.Every, "gc-interval", time.Hour, "how often to apply the retention policy (0: never; kensa server gc runs it once)")
	}
	f.IntVar(&g.KeepScans, "gc-keep-scans", 10, "scans kept per image reference, newest first (an image's latest is always kept)")
	f.IntVar(&g.MaxAge, "gc-max-age-days", 90, "drop scans (but an image's latest), failed jobs and finished notifications older than this many days (0: no age limit)")
}

func (g *gcFlags) policy() (store.GCPolicy, error) {
	if g.KeepScans < 1 {
		return store.GCPolicy{}, inputErrorf("--gc-keep-scans %d: want at least 1", g.KeepScans)
	}
	if g.MaxAge < 0 {
		return store.GCPolicy{}, inputErrorf("--gc-max-age-days %d: want 0 or more", g.MaxAge)
	}
	return store.GCPolicy{KeepScans: g.KeepScans, MaxAge: time.Duration(g.MaxAge) * 24 * time.Hour}, nil
}

func newServerCmd() *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run kensa server: a REST API and scan workers on PostgreSQL",
		Long: `server runs kensa for a registry: a REST API (docs/openapi.yaml)
that queues image scans in PostgreSQL, and workers that scan them with the
layer facts shared in the database, so a layer many images share is read
once. Any number of processes may run on one database:
  kensa server --database postgres://... --role api      the API only
  kensa server --database postgres://... --role worker   workers only
  kensa server --database postgres://...                 both (default)
The first admin token comes from KENSA_ADMIN_TOKEN; more tokens from
kensa server token create. When the vulnerability database file (--db)
changes (kensa db import / update), the stored packages the changed
advisories name are re-matched, with no layer read.

Registry integration: point a registry's push notifications at
POST /v1/webhooks/registry (Distribution notifications, Harbor webhooks,
Docker Hub webhooks); each pushed manifest is queued for a scan by digest
(Distribution: set the endpoint's ignore.actions to [pull] to spare the
requests pulls would cost).
Authenticate with a submit token (Distribution: the endpoint's headers;
Harbor: the auth header "Bearer <token>") or, where the registry can only
be given a URL (Docker Hub), with ?secret=<--webhook-secret>.

Notifications: with --notify-url, an image (manifest digest) that gains a
CRITICAL finding (a vulnerability, on its first scan or on a rescan after
an advisory update, or a secret or image check of its scan) is announced
once per finding by a JSON POST
({"event":"image.critical_findings","image":{"digest",...},"findings":[...]})
signed with --notify-secret (X-Kensa-Signature: sha256=<HMAC>), from a
durable outbox retried with backoff; scans never wait for it.

Periodic rescan: images whose latest scan is older than --rescan-interval
are re-queued, at most --rescan-batch per round; when the stored layers
are the current analyzers' the stored packages are re-matched against the
vulnerability database (no registry or layer read), otherwise the image
is scanned again.

Registry concurrency: workers run at most --registry-concurrency-default
jobs at once against one registry host, counted over every worker process
on the database; --registry-concurrency HOST=N (repeatable) sets a host's
own limit, e.g. --registry-concurrency index.docker.io=2. Give every
worker process the same limits.

Retention: every --gc-interval (and on POST /v1/admin/gc, or once with
kensa server gc) scans beyond the newest --gc-keep-scans of each image
reference and scans older than --gc-max-age-days are deleted (never an
image's latest), with their jobs; then the manifests, package sets,
packages and layers no kept scan references. The database stays bounded
by the images it holds, not by how often they are scanned.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			return runServer(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	addDatabaseFlag(cmd, &o.Database)
	cmd.AddCommand(newServerGCCmd())
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "API address")
	f.StringVar(&o.Role, "role", "all", "what this process runs: api, worker or all")
	f.IntVar(&o.Workers, "workers", 2, "concurrent scans in this process (roles worker and all)")
	f.StringVar(&o.DBPath, "db", "", "vulnerability database file of this node (default <cache-dir>/db/kensa.db)")
	f.StringVar(&o.CacheDir, "cache-dir", "", "cache folder (default the user cache dir + /kensa)")
	f.BoolVar(&o.Insecure, "insecure", false, "allow plain-HTTP and unverified-TLS registries")
	f.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate file (with --tls-key: serve HTTPS)")
	f.StringVar(&o.TLSKey, "tls-key", "", "TLS key file")
	f.Int64Var(&o.MaxUpload, "max-upload", 512<<20, "largest uploaded image archive, in bytes")
	f.StringVar(&o.AdminToken, "admin-token", "", "bootstrap admin token, stored hashed (prefer the KENSA_ADMIN_TOKEN environment variable)")
	f.DurationVar(&o.Lease, "lease", 30*time.Second, "job lease: a job whose worker stops heartbeating is retried after it")
	f.DurationVar(&o.JobTimeout, "job-timeout", 10*time.Minute, "time limit of one scan attempt")
	f.IntVar(&o.MaxAttempts, "max-attempts", 5, "attempts per job before it fails")
	f.StringVar(&o.WebhookSecret, "webhook-secret", "", "shared secret admitting registry push notifications (?secret=... or bearer); prefer KENSA_WEBHOOK_SECRET")
	f.StringVar(&o.NotifyURL, "notify-url", "", "webhook URL POSTed a JSON message when an image gains a CRITICAL finding (roles api and all)")
	f.StringVar(&o.NotifySecret, "notify-secret", "", "HMAC-SHA256 key signing notification bodies (X-Kensa-Signature); prefer KENSA_NOTIFY_SECRET")
	f.DurationVar(&o.NotifyInterval, "notify-interval", 5*time.Second, "how often to look for new CRITICAL findings and deliver notifications")
	f.DurationVar(&o.RescanEvery, "rescan-interval", 24*time.Hour, "re-queue images whose latest scan is older than this (0: never)")
	f.IntVar(&o.RescanBatch, "rescan-batch", 100, "most images re-queued per periodic rescan round")
	f.StringSliceVar(&o.RegistryConc, "registry-concurrency", nil, "HOST=N: at most N jobs at once against registry HOST, over all workers (repeatable)")
	f.IntVar(&o.RegistryDef, "registry-concurrency-default", 4, "at most this many jobs at once against any other registry host (0: no limit)")
	o.GC.add(f, true)
	f.DurationVar(&o.WatchEvery, "db-watch", 2*time.Second, "how often to check the vulnerability database file for changes (0: never)")
	cmd.AddCommand(newServerTokenCmd(), newServerMigrateCmd(), newServerHealthCmd())
	return cmd
}

func addDatabaseFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "database", "", "PostgreSQL URL (postgres://user@host:port/db); also KENSA_DATABASE")
}

func openStore(ctx context.Context, url string) (*store.Store, error) {
	if url == "" {
		return nil, inputErrorf("--database (or KENSA_DATABASE): a PostgreSQL URL is needed; scripts/postgres.sh start prints one for a local test cluster")
	}
	return store.Open(ctx, url, store.Options{})
}

func runServer(ctx context.Context, o *serverOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch o.Role {
	case "api", "worker", "all":
	default:
		return inputErrorf("--role %q: want api, worker or all", o.Role)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return inputErrorf("--tls-cert and --tls-key go together")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := openStore(ctx, o.Database)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.AdminToken != "" {
		if err := st.AddToken(ctx, "bootstrap-admin", o.AdminToken, []string{store.ScopeAdmin}); err != nil {
			return err
		}
	}
	dbFile, err := serverDBPath(o)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	if o.Role != "api" {
		if o.Workers < 1 {
			return inputErrorf("--workers %d: want at least 1", o.Workers)
		}
		lim, err := parseRegistryLimits(o.RegistryConc, o.RegistryDef)
		if err != nil {
			return err
		}
		host, _ := os.Hostname()
		for i := range o.Workers {
			w := server.NewWorker(st, server.WorkerOptions{
				ID: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), i), DBPath: dbFile,
				Lease: o.Lease, JobTimeout: o.JobTimeout, Insecure: o.Insecure, Log: log, RegistryLimits: lim,
			})
			wg.Add(1)
			go func() { defer wg.Done(); w.Run(ctx) }() //nolint:errcheck // Run returns nil when ctx ends
		}
	}
	if o.Role != "worker" {
		if dbFile != "" && o.WatchEvery > 0 {
			wg.Add(1)
			go func() { defer wg.Done(); server.WatchDB(ctx, st, dbFile, o.WatchEvery, log) }()
		}
		if o.NotifyURL != "" {
			u, err := url.Parse(o.NotifyURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return inputErrorf("--notify-url %q: want an http:// or https:// URL", o.NotifyURL)
			}
			n := server.NewNotifier(st, server.NotifierOptions{URL: o.NotifyURL, Secret: o.NotifySecret, Interval: o.NotifyInterval, Log: log})
			wg.Add(1)
			go func() { defer wg.Done(); n.Run(ctx) }()
		}
		pol, err := o.GC.policy()
		if err != nil {
			return err
		}
		if o.GC.Every > 0 {
			wg.Add(1)
			go func() { defer wg.Done(); server.PeriodicGC(ctx, st, pol, o.GC.Every, log) }()
		}
		if o.RescanEvery > 0 {
			if o.RescanBatch < 1 {
				return inputErrorf("--rescan-batch %d: want at least 1", o.RescanBatch)
			}
			poll := min(max(o.RescanEvery/10, time.Second), time.Minute)
			wg.Add(1)
			go func() {
				defer wg.Done()
				server.PeriodicRescan(ctx, st, o.RescanEvery, poll, o.RescanBatch, o.MaxAttempts, log)
			}()
		}
		if o.WebhookSecret != "" && len(o.WebhookSecret) < 16 {
			return inputErrorf("--webhook-secret: want at least 16 characters")
		}
		api := server.NewAPI(st, server.APIOptions{MaxUpload: o.MaxUpload, MaxAttempts: o.MaxAttempts, ToolVersion: Version, Log: log, WebhookSecret: o.WebhookSecret, GC: pol})
		srv := &http.Server{Addr: o.Listen, Handler: api, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
		ln, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return fmt.Errorf("--listen %s: %w", o.Listen, err)
		}
		log.Info("kensa server listening", "addr", ln.Addr().String(), "role", o.Role)
		go func() {
			var err error
			if o.TLSCert != "" {
				err = srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
			} else {
				err = srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(sctx) //nolint:errcheck
		}()
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
		stop()
	}
	wg.Wait()
	return err
}

// parseRegistryLimits reads --registry-concurrency HOST=N values.
func parseRegistryLimits(specs []string, def int) (store.RegistryLimits, error) {
	lim := store.RegistryLimits{PerRegistry: map[string]int{}, Default: def}
	for _, s := range specs {
		host, num, ok := strings.Cut(s, "=")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		host = strings.TrimSpace(host)
		if !ok || host == "" || err != nil || n < 1 {
			return lim, inputErrorf("--registry-concurrency %q: want HOST=N with N >= 1", s)
		}
		if host == "docker.io" {
			host = "index.docker.io" // how references name Docker Hub
		}
		lim.PerRegistry[host] = n
	}
	return lim, nil
}

// serverDBPath is the vulnerability database file, or "" when there is
// none yet (the workers then note that vulnerabilities were not matched).
func serverDBPath(o *serverOptions) (string, error) {
	cache := o.CacheDir
	if cache == "" && o.DBPath == "" {
		var err error
		if cache, err = layerfs.DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	p, err := dbPath(o.DBPath, cache)
	if err != nil {
		return "", err
	}
	db, err := vulndb.Open(p)
	if err != nil {
		if errors.Is(err, vulndb.ErrNoDB) && o.DBPath == "" {
			return "", nil
		}
		return "", &InputError{Err: fmt.Errorf("--db %s: %w", p, err)}
	}
	db.Close()
	return p, nil
}

func newServerTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var db, name string
	var scopes []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it (only its hash is stored)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := bindEnv(c); err != nil {
				return &InputError{Err: err}
			}
			for _, s := range scopes {
				if !store.ValidScope(s) {
					return inputErrorf("--scope %q: want read, submit or admin", s)
				}
			}
			st, err := openStore(c.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			tok, err := st.CreateToken(c.Context(), name, scopes)
			if err != nil {
				return &InputError{Err: err}
			}
			fmt.Fprintln(c.OutOrStdout(), tok)
			return nil
		},
	}
	addDatabaseFlag(create, &db)
	create.Flags().StringSliceVar(&scopes, "scope", []string{store.ScopeRead}, "scopes: read, submit, admin (comma-separated)")
	create.Flags().StringVar(&name, "name", "cli", "what the token is for")
	cmd.AddCommand(create)
	return cmd
}

func newServerGCCmd() *cobra.Command {
	var db string
	var g gcFlags
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Apply the retention policy once and print what it deleted",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := bindEnv(c); err != nil {
				return &InputError{Err: err}
			}
			pol, err := g.policy()
			if err != nil {
				return err
			}
			st, err := openStore(c.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.GC(c.Context(), pol)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "deleted %d scans, %d jobs, %d manifests, %d package sets, %d packages, %d layers, %d uploads, %d notifications in %s\n",
				res.Scans, res.Jobs, res.Manifests, res.PackageSets, res.Packages, res.Layers, res.Uploads, res.Notifications, res.Took.Round(time.Millisecond))
			return nil
		},
	}
	addDatabaseFlag(cmd, &db)
	g.add(cmd.Flags(), false)
	return cmd
}

func newServerMigrateCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema migrations and print the schema version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := bindEnv(c); err != nil {
				return &InputError{Err: err}
			}
			st, err := openStore(c.Context(), db)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := st.SchemaVersion(c.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "schema version %d\n", v)
			return nil
		},
	}
	addDatabaseFlag(cmd, &db)
	return cmd
}
