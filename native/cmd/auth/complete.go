package main

import (
	"slices"
	"strings"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

// Shell completion: profile names for the HOST|PROFILE argument and
// --profile, and the fixed values of the flags that have them. Everything
// comes from the command line and the profiles file: no network, no cache.

// flagValues are the values completed for a flag, by command ("" for any
// command that has the flag): every value the command accepts, aliases
// included (-o text and table on every command, the shells of --shell).
// A function, not a package-level map: no init work on auth token's path.
func flagValues() map[string]map[string][]string {
	return map[string]map[string][]string{
		"output": {
			"token":    outputValues("text", "json", "exec-credential"),
			"describe": outputValues("text", "json"),
			"profiles": outputValues("table", "json"),
			"env":      outputValues("shell", "json"),
			"proof":    outputValues("text", "headers"),
		},
		"shell":       {"env": slices.Concat(shellSyntaxes()...)},
		"flow":        {"": {flowBrowser, flowDevice, flowAuto}},
		"dpop":        {"": {core.DPoPAuto, core.DPoPAlways, core.DPoPNever}},
		"storage":     {"": {string(native.StorageAuto), string(native.StorageKeyring), string(native.StorageFile)}},
		"client-auth": {"": {"basic", "post"}},
	}
}

// outputValues are a command's -o forms (its form for people first, as
// outputFormat takes them) with the names text and table, which every
// command accepts for its form for people.
func outputValues(forms ...string) []string {
	for _, alias := range []string{"text", "table"} {
		if !slices.Contains(forms, alias) {
			forms = slices.Insert(forms, 1, alias)
		}
	}
	return forms
}

// takesProfile reports whether the command's first argument is
// HOST|PROFILE. A switch, not a package-level map: a map literal is built
// at init, on auth token's path too.
func takesProfile(command string) bool {
	switch command {
	case "login", "token", "logout", "describe", "env", "exec", "api", "git-credential", "proof":
		return true
	}
	return false
}

// gitOperations are what git appends to git-credential's command line.
func gitOperations() []string { return []string{"get", "store", "erase"} }

// addCompletion registers the completions on root's tree (built).
func (a *app) addCompletion(root *cobra.Command) {
	profiles := func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return a.profileNames(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	root.RegisterFlagCompletionFunc("profile", profiles)
	all := flagValues()
	if values, ok := all["storage"][""]; ok {
		root.RegisterFlagCompletionFunc("storage", cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	}
	// Every command, those of the `auth` group (the Databricks forms) too.
	var cmds []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			cmds = append(cmds, sub)
			walk(sub)
		}
	}
	walk(root)
	for _, c := range cmds {
		for flag, byCmd := range all {
			values, ok := byCmd[c.Name()]
			if !ok {
				values, ok = byCmd[""]
			}
			if ok && c.Flags().Lookup(flag) != nil && c.LocalFlags().Lookup(flag) != nil {
				c.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
			}
		}
		if !takesProfile(c.Name()) {
			continue
		}
		name := c.Name()
		c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			switch {
			case len(args) == 0 && name == "git-credential":
				return append(a.profileNames(cmd, toComplete), gitOperations()...), cobra.ShellCompDirectiveNoFileComp
			case len(args) == 0:
				return a.profileNames(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
			case len(args) == 1 && name == "git-credential":
				return gitOperations(), cobra.ShellCompDirectiveNoFileComp
			case name == "exec":
				return nil, cobra.ShellCompDirectiveDefault // the command to run
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
	}
}

// profileNames are the profiles that start with prefix, from the profiles
// file (and a Databricks CLI config file when one is named); under the
// Databricks forms, the sections of the Databricks CLI's config file only,
// the names those forms accept. Nothing when those cannot be read, since a
// completion has no way to say why.
func (a *app) profileNames(cmd *cobra.Command, prefix string) []cobra.Completion {
	// A completion runs no PersistentPreRunE: what it sets, set here.
	a.databricksForm = databricksForm(cmd)
	a.databricksList = a.databricksForm // read that file without a --profile
	a.applyEnv(cmd)                     // $DUALAUTH_CONFIG_FILE, $DUALAUTH_DATABRICKS_CONFIG…
	f, err := a.configFile()
	if err != nil || a.databricksForm && f.DatabricksPath == "" {
		return nil
	}
	var names []cobra.Completion
	for _, p := range f.Selectable() {
		// A name the sanitiser would change (control or bidi characters in
		// a Databricks CLI section name) is not handed to the shell to show.
		if strings.HasPrefix(p.Name, prefix) && core.Sanitize(p.Name) == p.Name {
			names = append(names, p.Name)
		}
	}
	return names
}
