package vulndb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTitleRealRecords derives titles from the details of real PYSEC
// records (testdata/osv/PyPI, none has a summary).
func TestTitleRealRecords(t *testing.T) {
	want := map[string]string{
		// An opening sentence that only describes the project is skipped.
		"PYSEC-2022-42986": `Certifi 2022.12.07 removes root certificates from "TrustCor" from the root store.`,
		"PYSEC-2023-11":    "In affected versions `Cipher.update_into` would accept Python objects which implement the buffer protocol, but provide only immutable buffers.",
		"PYSEC-2023-74":    "Since Requests 2.3.0, Requests has been leaking Proxy-Authorization headers to destination servers when redirected to an HTTPS endpoint.",
		"PYSEC-2023-192":   "urllib3 doesn't treat the `Cookie` HTTP header special or provide any helpers for managing cookies over HTTP, that is the responsibility of the user.",
		// "i.e." does not end the sentence.
		"PYSEC-2018-32": "urllib3 before version 1.23 does not remove the Authorization HTTP header when following a cross-origin redirect (i.e., a redirect that differs in host, port…",
		// A version number's dots do not end it either.
		"PYSEC-2021-108": "An issue was discovered in urllib3 before 1.26.5.",
		"PYSEC-2019-217": "In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape.",
		// "e.g.," inside the sentence.
		"PYSEC-2020-176": "PyYAML 5.1 through 5.1.2 has insufficient restrictions on the load and load_all functions because of a class deserialization issue, e.g., Popen is a class in…",
	}
	for id, w := range want {
		data, err := os.ReadFile(filepath.Join("testdata/osv/PyPI", id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseRecord(id, data)
		if err != nil {
			t.Fatal(err)
		}
		if a.Summary != "" {
			t.Fatalf("%s has a summary; pick a record without one", id)
		}
		a.compact()
		if a.Summary != w {
			t.Errorf("%s: title\n  %q\nwant\n  %q", id, a.Summary, w)
		}
	}
}

func TestTitle(t *testing.T) {
	long := strings.Repeat("word ", 60)
	tests := []struct{ in, want string }{
		{"", ""},
		{"  \n\n ", ""},
		{"### Impact\nThe parser crashes on deep input.\n\n### Patches\nUpgrade.", "The parser crashes on deep input."},
		{"Exposure of Sensitive Information vulnerability in Apache Airflow.This issue affects Apache Airflow from 2.4.0 to 2.7.0.", "Exposure of Sensitive Information vulnerability in Apache Airflow."},
		{"The implementation of `tf.raw_ops.FusedBatchNorm` is vulnerable. More text.", "The implementation of `tf.raw_ops.FusedBatchNorm` is vulnerable."},
		{"Foo is a library for parsing. Foo allows a crash via deep nesting.", "Foo allows a crash via deep nesting."},
		{"Foo is a vulnerable library when given long input. More.", "Foo is a vulnerable library when given long input."},
		{"Two lines\nof one sentence. Next.", "Two lines of one sentence."},
		{"Heap overflow in J. Random's parser! More.", "Heap overflow in J. Random's parser!"},
		{"no final mark", "no final mark"},
	}
	for _, tt := range tests {
		if got := Title(tt.in); got != tt.want {
			t.Errorf("Title(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	got := Title(long)
	if n := utf8.RuneCountInString(got); n > maxTitle || !strings.HasSuffix(got, "word…") {
		t.Errorf("long title: %d runes, %q", n, got)
	}
}

func FuzzTitle(f *testing.F) {
	f.Add("Foo is a library. It crashes. ### x")
	f.Add("`a.B` c. d")
	f.Fuzz(func(t *testing.T, s string) {
		got := Title(s)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Title(%q) = %q: invalid UTF-8", s, got)
		}
		if utf8.RuneCountInString(got) > maxTitle {
			t.Fatalf("Title(%q) has %d runes", s, utf8.RuneCountInString(got))
		}
	})
}
