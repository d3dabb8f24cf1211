package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/kensa-sec/kensa/internal/vulndb"
)

func init() { extraCommands = append(extraCommands, newDBCmd) }

// dbOptions are the flags shared by the `kensa db` subcommands.
type dbOptions struct {
	DBPath   string
	CacheDir string
	Quiet    bool
}

func (d *dbOptions) path() (string, error) { return dbPath(d.DBPath, d.CacheDir) }

func newDBCmd() *cobra.Command {
	d := &dbOptions{}
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the vulnerability database (update, import, status)",
		Long: `The vulnerability database is one file (default <cache-dir>/db/kensa.db)
built from OSV records. Scans open it read-only; update and import build a new
file and rename it into place, so a scan never sees a half-built database.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&d.DBPath, "db", "", "vulnerability database file (default <cache-dir>/db/kensa.db)")
	pf.StringVar(&d.CacheDir, "cache-dir", "", "cache folder (default the user cache dir + /kensa)")
	pf.BoolVarP(&d.Quiet, "quiet", "q", false, "no progress output")
	cmd.AddCommand(newDBUpdateCmd(d), newDBImportCmd(d), newDBStatusCmd(d))
	return cmd
}

func newDBUpdateCmd(d *dbOptions) *cobra.Command {
	var ecosystems []string
	var mirror string
	var retries int
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download OSV archives and rebuild the database",
		Long: `Update downloads <mirror>/<ecosystem>/all.zip for each ecosystem (default:
every ecosystem kensa can match), skipping archives that have not changed
since the last update (ETag / If-Modified-Since), retrying server and network
errors with exponential backoff, then rebuilds the database atomically.

Ecosystems: ` + strings.Join(vulndb.DefaultEcosystems, ", "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			path, err := d.path()
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			o := vulndb.UpdateOptions{DBPath: path, BaseURL: mirror, Ecosystems: ecosystems, Retries: retries}
			if !d.Quiet {
				o.Log = stderr
				if isTerminal(stderr) {
					o.Progress = func(name string, total int64, body io.Reader) io.Reader {
						bar := progressbar.NewOptions64(total,
							progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription(name),
							progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish())
						return io.TeeReader(body, bar)
					}
				}
			}
			res, err := vulndb.Update(cmd.Context(), o)
			if err != nil {
				return err
			}
			if !d.Quiet {
				if !res.Rebuilt {
					fmt.Fprintf(stderr, "database %s is up to date (%d records)\n", path, res.Meta.Records)
				} else {
					fmt.Fprintf(stderr, "database %s rebuilt: %d records\n", path, res.Meta.Records)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&ecosystems, "ecosystems", nil, "ecosystems to download, comma-separated (default all kensa can match)")
	f.StringVar(&mirror, "mirror", vulndb.DefaultBaseURL, "base URL of the OSV archives")
	f.IntVar(&retries, "retries", 4, "retries per download on server or network errors")
	return cmd
}

func newDBImportCmd(d *dbOptions) *cobra.Command {
	var replace bool
	cmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Build the database from local OSV zips, folders or Alpine secdb files",
		Long: `Import reads OSV all.zip archives, folders of OSV JSON records (and zips in
them), single OSV records, and Alpine secdb files (YAML, or the JSON form of
secdb.alpinelinux.org), for offline and air-gapped use. Records of ecosystems
the import does not cover are kept from the current database unless --replace.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			path, err := d.path()
			if err != nil {
				return err
			}
			for _, p := range args {
				if _, err := os.Stat(p); err != nil {
					return &InputError{Err: fmt.Errorf("import %s: %w", p, err)}
				}
			}
			o := vulndb.ImportOptions{DBPath: path, Paths: args, Replace: replace}
			if !d.Quiet {
				o.Log = cmd.ErrOrStderr()
			}
			m, err := vulndb.Import(o)
			if err != nil {
				return &InputError{Err: err}
			}
			if !d.Quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "database %s built: %d records\n", path, m.Records)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "start from an empty database instead of keeping other ecosystems")
	return cmd
}

// dbStatus is the JSON form of `kensa db status`.
type dbStatus struct {
	Path       string          `json:"path"`
	Schema     int             `json:"schema"`
	Built      time.Time       `json:"built"`
	AgeHours   float64         `json:"age_hours"`
	Records    int             `json:"records"`
	Ecosystems map[string]int  `json:"ecosystems"`
	Sources    []vulndb.Source `json:"sources"`
}

func newDBStatusCmd(d *dbOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's ecosystems, record counts, sources and age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			if format != "table" && format != "json" {
				return inputErrorf("--format %q: want table or json", format)
			}
			path, err := d.path()
			if err != nil {
				return err
			}
			db, err := vulndb.Open(path)
			if err != nil {
				if errors.Is(err, vulndb.ErrNoDB) {
					return &InputError{Err: fmt.Errorf("no vulnerability database at %s: run `kensa db update` or `kensa db import`", path)}
				}
				return &InputError{Err: err}
			}
			defer db.Close()
			return writeDBStatus(cmd.OutOrStdout(), format, path, db.Meta(), time.Now())
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	return cmd
}

func writeDBStatus(w io.Writer, format, path string, m vulndb.Meta, now time.Time) error {
	st := dbStatus{Path: path, Schema: m.Schema, Built: m.Built, AgeHours: float64(int(m.Age(now).Hours()*10)) / 10,
		Records: m.Records, Ecosystems: m.Ecosystems, Sources: []vulndb.Source{}}
	for _, name := range sortedKeys(m.Sources) {
		st.Sources = append(st.Sources, m.Sources[name])
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(w, "Database: %s (schema %d)\n", path, m.Schema)
	fmt.Fprintf(w, "Built:    %s (%s ago)\n", m.Built.Format(time.RFC3339), vulndb.HumanAge(m.Age(now)))
	fmt.Fprintf(w, "Records:  %d\n\n", m.Records)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS")
	for _, e := range m.EcosystemNames() {
		fmt.Fprintf(tw, "%s\t%d\n", e, m.Ecosystems[e])
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRECORDS\tDATE\tORIGIN")
	for _, s := range st.Sources {
		date := "-"
		if !s.Date.IsZero() {
			date = s.Date.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Name, s.Records, date, s.Origin)
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
