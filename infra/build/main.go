// Command build compiles the three functions exactly as `pulumi up` ships
// them (reproducible zips under .build/lambda/linux_<arch>/) and prints each
// zip's size and hash, the value a preview compares.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
)

func main() {
	arch := flag.String("arch", "arm64", "Lambda architecture: arm64 or x86_64")
	flag.Parse()
	if err := run(*arch); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run(arch string) error {
	goarch, err := lambdabuild.GOARCH(arch)
	if err != nil {
		return err
	}
	root, err := lambdabuild.FindModuleRoot(".")
	if err != nil {
		return err
	}
	start := time.Now()
	arts, err := lambdabuild.BuildAll(context.Background(), lambdabuild.Options{ModuleRoot: root, GOARCH: goarch},
		"./functions/"+contract.EventsFunction, "./functions/"+contract.CommandsFunction, "./functions/"+contract.PercentilesFunction)
	if err != nil {
		return err
	}
	for _, a := range arts {
		fmt.Printf("%-12s %9d bytes  sha256 %s  %s\n", a.Name, len(a.Zip), a.SHA256, a.Path)
	}
	fmt.Printf("built %d functions for linux/%s in %v\n", len(arts), goarch, time.Since(start).Round(time.Millisecond))
	return nil
}
