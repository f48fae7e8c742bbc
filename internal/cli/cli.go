// Package cli implements the strata command line: a registry of subcommands
// (server, train, generate, chat, data, models, keys, ...) that each file of
// this package adds to at init time, and the dispatcher that runs them.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// Command is one strata subcommand.
type Command struct {
	// Name is the first argument that selects the command ("train").
	Name string
	// Summary is a one-line description shown by "strata help".
	Summary string
	// Run executes the command with the arguments after its name. It returns
	// an error to print and exit 1; ErrUsage prints the command's usage and
	// exits 2. Output goes to the given writers, never to os.Stdout directly.
	Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// ErrUsage reports a command-line usage mistake (exit status 2).
var ErrUsage = errors.New("usage")

// ExitError carries a specific exit status (for example from "data validate").
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

var commands = map[string]Command{}

// Register adds a command; it is called from init functions and panics on a
// duplicate or empty name.
func Register(c Command) {
	if c.Name == "" || c.Run == nil {
		panic("cli: Register with empty name or nil Run")
	}
	if _, dup := commands[c.Name]; dup {
		panic("cli: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

// Run dispatches args to the selected command and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "strata: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.Run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "strata %s: %v\n", c.Name, err)
		return 2
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "strata %s: %v\n", c.Name, ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "strata %s: %v\n", c.Name, err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Strata: self-hosted model customization with Amazon Bedrock's API.")
	fmt.Fprintln(w, "\nUsage: strata <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun 'strata <command> -h' for the flags of a command.")
}

// newFlagSet returns a flag set that writes its usage to stderr and returns
// errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("strata "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
