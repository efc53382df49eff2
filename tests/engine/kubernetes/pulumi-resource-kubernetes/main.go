// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider for gpuplane's engine tests.
//
// Why: upstream's cmd/pulumi-resource-kubernetes embeds schema-embed.json and
// terraform-mapping-embed.json, files its `go generate` step writes and the Go module does not
// contain (the module has only schema.json and terraform-mapping.json). This main calls the same
// provider.Serve with those two files, read at start-up from the directory holding this binary,
// where tests/engine/build.py copies them from the module it built against.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

func readBeside(name string) []byte {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: locating executable: %v\n", err)
		os.Exit(1)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: resolving executable: %v\n", err)
		os.Exit(1)
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(exe), name))
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: %v\n", err)
		os.Exit(1)
	}
	return data
}

func main() {
	provider.Serve(
		"kubernetes",
		version.Version,
		readBeside("pulumi-resource-kubernetes.schema.json"),
		readBeside("pulumi-resource-kubernetes.terraform-mapping.json"),
	)
}
