package cli

import "github.com/strata-ml/strata/engine/starter"

// starterBuilder returns the function that builds the offline starter model.
func starterBuilder() func(dir string) (string, error) { return starter.Ensure }
