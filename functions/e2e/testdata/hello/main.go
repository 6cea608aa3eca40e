// Command hello is the floor of BenchmarkOneAnswer: a Go process that starts,
// writes one line and exits.
package main

import "os"

func main() { os.Stdout.WriteString("{}\n") }
