package dpkg_test

import (
	"fmt"

	"github.com/kensa-sec/kensa/internal/inventory/dpkg"
)

func ExampleExtractor_Extract() {
	status := []byte(`Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2

Package: bash
Status: install ok installed
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b2
`)
	pkgs, err := dpkg.Extractor{}.Extract("/var/lib/dpkg/status", status)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range pkgs {
		fmt.Println(p.Name, p.Version, "source:", p.SourceName, p.SourceVersion)
		fmt.Println(" ", p.PURL)
	}
	// Output:
	// libssl3 3.0.11-1~deb12u2 source: openssl 3.0.11-1~deb12u2
	//   pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl
	// bash 5.2.15-2+b2 source: bash 5.2.15-2
	//   pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&upstream=bash%405.2.15-2
}
