// Command kensa inspects container images and the Dockerfiles that build
// them, and tells the user exactly what to change.
package main

import (
	"os"

	"github.com/kensa-sec/kensa/internal/cli"
	"github.com/kensa-sec/kensa/internal/initgc"
)

func main() {
	initgc.Restore()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
