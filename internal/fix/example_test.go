package fix_test

import (
	"context"
	"fmt"

	"github.com/kensa-sec/kensa/internal/fix"
)

// Fix edits the bytes as written: the comment and the continuation line
// stay, and each change names the rule it clears.
func ExampleFix() {
	src := "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\n" +
		"# tools\n" +
		"RUN apk add \\\n" +
		"    curl=8.9.0-r0\n" +
		"USER 10001\n" +
		"CMD /usr/bin/curl --version\n"
	res, err := fix.Fix(context.Background(), "Dockerfile", []byte(src), fix.Options{Offline: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(res.Diff())
	for _, a := range res.Applied {
		fmt.Printf("%s line %d: %s\n", a.Rule, a.Line, a.Change)
	}
	// Output:
	// --- a/Dockerfile
	// +++ b/Dockerfile
	// @@ -1,6 +1,6 @@
	//  FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000
	//  # tools
	// -RUN apk add \
	// +RUN apk add --no-cache \
	//      curl=8.9.0-r0
	//  USER 10001
	// -CMD /usr/bin/curl --version
	// +CMD ["/usr/bin/curl", "--version"]
	// KS-DF-008 line 3: added --no-cache to 1 command(s)
	// KS-DF-024 line 6: rewrote CMD in exec form
}
