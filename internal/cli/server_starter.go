package cli

// starterBuilder returns the function that builds the offline starter model
// (engine/starter), or nil while that package is not available.
func starterBuilder() func(dir string) (string, error) { return nil }
