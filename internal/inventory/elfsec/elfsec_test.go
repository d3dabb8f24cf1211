package elfsec

import (
	"os"
	"slices"
	"testing"
)

func TestMayHave(t *testing.T) {
	self, err := os.Executable() // a Go program
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if !MayHave(goBin, ".go.buildinfo") || !MayHave(goBin, ".gopclntab") {
		t.Error("Go binary: sections not found")
	}
	if MayHave(goBin, ".no-such-section") {
		t.Error("Go binary: a missing section found")
	}
	ls, err := os.ReadFile("/bin/ls") // a C program: no Go build information
	if err != nil {
		t.Fatal(err)
	}
	if MayHave(ls, ".go.buildinfo") {
		t.Error("/bin/ls has .go.buildinfo")
	}
	if !MayHave(ls, ".text") {
		t.Error("/bin/ls: .text not found")
	}
	// Unreadable headers leave the decision to the full parse.
	for _, b := range [][]byte{goBin[:0x40], []byte("#!/bin/sh\n"), append([]byte("\x7fELF\x02\x01"), make([]byte, 0x40)...)} {
		if !MayHave(b, ".go.buildinfo") {
			t.Errorf("%d-byte input: false, want true (undecided)", len(b))
		}
	}
}

func TestCStrings(t *testing.T) {
	var got []string
	for s := range CStrings([]byte("\x00.text\x00\x00.data\x00tail")) {
		got = append(got, string(s))
	}
	if want := []string{".text", ".data", "tail"}; !slices.Equal(got, want) {
		t.Errorf("CStrings = %q, want %q", got, want)
	}
}
