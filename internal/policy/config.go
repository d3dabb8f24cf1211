// Package policy decides what a report shows and what fails a build: the
// kensa.yaml config (severity overrides, disabled rules, trusted registries,
// thresholds), the .kensaignore file, and the --severity / --exit-code gate.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"gopkg.in/yaml.v3"
)

// maxPolicyFile bounds how much of a config or ignore file is read.
const maxPolicyFile = 4 << 20

// Config is the content of kensa.yaml. Unknown keys are an error.
type Config struct {
	// SeverityOverrides maps a rule or advisory ID to the severity it
	// should report with, e.g. {KS-DF-015: INFO}.
	SeverityOverrides map[string]string `yaml:"severity_overrides"`
	// DisabledRules lists IDs whose findings are suppressed (shown only
	// with --show-suppressed). An entry ending in '*' disables a prefix.
	DisabledRules []string `yaml:"disabled_rules"`
	// TrustedRegistries lists registries or repository prefixes base images
	// may come from (docker.io/library, gcr.io/distroless). Empty: no check.
	TrustedRegistries []string `yaml:"trusted_registries"`
	// DB configures the vulnerability database.
	DB DBConfig `yaml:"db"`
	// Thresholds tune checks that compare a measure against a limit.
	Thresholds Thresholds `yaml:"thresholds"`
	// Trust configures signature verification and admission (trust.go).
	Trust TrustConfig `yaml:"trust"`

	overrides map[string]finding.Severity
	lines     map[string]int // key → line, for Suppression.Source
}

// DBConfig configures the vulnerability database.
type DBConfig struct {
	// MaxAge is how old the database may be before scans warn (default 72h).
	MaxAge time.Duration `yaml:"max_age"`
}

// Thresholds are limits for measuring checks; zero means the scanner's
// default.
type Thresholds struct {
	// ContextMaxBytes and ContextMaxFiles bound the build context (KS-CX-004).
	ContextMaxBytes int64 `yaml:"context_max_bytes"`
	ContextMaxFiles int   `yaml:"context_max_files"`
	// DockerignoreMaxPatterns and DockerignoreMaxExceptions bound the
	// .dockerignore cost (KS-CX-003).
	DockerignoreMaxPatterns   int `yaml:"dockerignore_max_patterns"`
	DockerignoreMaxExceptions int `yaml:"dockerignore_max_exceptions"`
	// LayerWasteBytes is the wasted-bytes limit for KS-IM-012.
	LayerWasteBytes int64 `yaml:"layer_waste_bytes"`
}

// DefaultDBMaxAge is used when db.max_age is not set.
const DefaultDBMaxAge = 72 * time.Hour

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// LoadConfig reads and validates a kensa.yaml file.
func LoadConfig(path string) (*Config, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig parses kensa.yaml content; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("config %s:%d: more than one YAML document", name, extra.Line)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	cfg.lines = keyLines(&root)

	cfg.overrides = map[string]finding.Severity{}
	for id, sev := range cfg.SeverityOverrides {
		at := fmt.Sprintf("%s:%d", name, cfg.lines["severity_overrides."+id])
		if !idPattern.MatchString(id) {
			return nil, fmt.Errorf("config %s: severity_overrides: %q is not a rule ID", at, id)
		}
		s, err := finding.ParseSeverity(sev)
		if err != nil {
			return nil, fmt.Errorf("config %s: severity_overrides.%s: %w", at, id, err)
		}
		cfg.overrides[id] = s
	}
	for i, id := range cfg.DisabledRules {
		if !idPattern.MatchString(strings.TrimSuffix(id, "*")) {
			return nil, fmt.Errorf("config %s:%d: disabled_rules[%d]: %q is not a rule ID", name, cfg.lines[fmt.Sprintf("disabled_rules.%d", i)], i, id)
		}
	}
	for i, r := range cfg.TrustedRegistries {
		if strings.TrimSpace(r) == "" || strings.ContainsAny(r, " \t@") {
			return nil, fmt.Errorf("config %s:%d: trusted_registries[%d]: %q is not a registry or repository prefix", name, cfg.lines[fmt.Sprintf("trusted_registries.%d", i)], i, r)
		}
	}
	if cfg.DB.MaxAge < 0 {
		return nil, fmt.Errorf("config %s: db.max_age must not be negative", name)
	}
	if err := cfg.Trust.validate(name, cfg.lines); err != nil {
		return nil, err
	}
	return cfg, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlError rewrites yaml.v3 errors as "config FILE:LINE: problem".
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for i, m := range msgs {
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			msgs[i] = name + ":" + sm[1] + ": " + m[len(sm[0]):]
		} else {
			msgs[i] = name + ": " + m
		}
	}
	return fmt.Errorf("config %s", strings.Join(msgs, "; "))
}

// keyLines maps dotted key paths (severity_overrides.KS-DF-015,
// disabled_rules.0) to their line numbers.
func keyLines(root *yaml.Node) map[string]int {
	out := map[string]int{}
	var walk func(n *yaml.Node, prefix string, depth int)
	walk = func(n *yaml.Node, prefix string, depth int) {
		if n == nil || depth > 8 {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := prefix + n.Content[i].Value
				out[k] = n.Content[i].Line
				walk(n.Content[i+1], k+".", depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				k := fmt.Sprintf("%s%d", prefix, i)
				out[k] = c.Line
				walk(c, k+".", depth+1)
			}
		}
	}
	walk(root, "", 0)
	return out
}

// Override returns the configured severity for id, if any.
func (c *Config) Override(id string) (finding.Severity, bool) {
	if c == nil {
		return 0, false
	}
	s, ok := c.overrides[id]
	return s, ok
}

// Disabled reports whether id is disabled, and the index of the entry.
func (c *Config) Disabled(id string) (int, bool) {
	if c == nil {
		return 0, false
	}
	for i, d := range c.DisabledRules {
		if d == id || (strings.HasSuffix(d, "*") && strings.HasPrefix(id, strings.TrimSuffix(d, "*"))) {
			return i, true
		}
	}
	return 0, false
}

// DBMaxAge returns the configured database age limit or the default.
func (c *Config) DBMaxAge() time.Duration {
	if c == nil || c.DB.MaxAge == 0 {
		return DefaultDBMaxAge
	}
	return c.DB.MaxAge
}

// readBounded reads a policy file, refusing huge or non-regular files.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxPolicyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPolicyFile)
	}
	return data, nil
}
