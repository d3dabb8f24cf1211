package dockerfile_test

import (
	"fmt"

	"github.com/kensa-sec/kensa/internal/dockerfile"
)

// Attribution: match an image's history entries to the Dockerfile lines
// that produced them.
func ExampleAlignHistory() {
	f, err := dockerfile.Parse("Dockerfile", []byte(`FROM debian:12
WORKDIR /app
RUN apt-get update && \
    apt-get install -y curl
COPY app /app/app
`))
	if err != nil {
		panic(err)
	}
	steps := f.HistorySteps()
	history := []string{ // created_by, oldest first, as `crane config` shows them
		"/bin/sh -c #(nop) ADD file:5d6b639e in / ",
		"/bin/sh -c #(nop)  CMD [\"bash\"]",
		"WORKDIR /app",
		"RUN /bin/sh -c apt-get update &&     apt-get install -y curl # buildkit",
		"COPY app /app/app # buildkit",
	}
	for i, s := range dockerfile.AlignHistory(steps, history) {
		if s < 0 {
			fmt.Printf("history %d: base image\n", i)
			continue
		}
		fmt.Printf("history %d: Dockerfile:%d %s\n", i, steps[s].Line(), steps[s].Instruction.Cmd)
	}
	// Output:
	// history 0: base image
	// history 1: base image
	// history 2: Dockerfile:2 workdir
	// history 3: Dockerfile:3 run
	// history 4: Dockerfile:5 copy
}
