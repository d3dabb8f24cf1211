// Command textdemo parses language tags and decodes UTF-16 with
// golang.org/x/text v0.3.0, a version with known advisories, so that kensa's
// Go binary extractor and vulnerability matching have a real target.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/language"
)

func main() {
	tags := []string{"en-US", "de-CH-1996"}
	if len(os.Args) > 1 {
		tags = os.Args[1:]
	}
	for _, s := range tags {
		t, err := language.Parse(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "textdemo: %s: %v\n", s, err)
			continue
		}
		fmt.Println(t)
	}
	dec := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
	out, err := dec.String("\xff\xfeh\x00i\x00")
	if err != nil {
		fmt.Fprintf(os.Stderr, "textdemo: decode: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(out)
}
