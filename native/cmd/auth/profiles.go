package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/dualauth/dualauth/native/config"
	"github.com/spf13/cobra"
)

// tokenStatus is a login's state as the cache shows it, offline.
type tokenStatus struct {
	State  string     `json:"state"` // valid, expired-refreshable, expired, logged-out
	Expiry *time.Time `json:"expiry,omitempty"`
	// login is what `auth login` takes to log in again (see loginName),
	// for the hint of an expired login.
	login string
}

func statusOf(e *core.Entry, now time.Time) tokenStatus {
	if e == nil {
		return tokenStatus{State: "logged-out"}
	}
	st := tokenStatus{}
	if !e.Expiry.IsZero() {
		exp := e.Expiry.Truncate(time.Second) // as auth token prints it
		st.Expiry = &exp
	}
	switch {
	case e.Valid(now, core.DefaultSkew):
		st.State = "valid"
	case e.RefreshToken != "" || e.RefreshTokenIn != "":
		st.State = "expired-refreshable"
	default:
		st.State = "expired"
	}
	return st
}

func (s tokenStatus) String() string {
	switch s.State {
	case "valid":
		if s.Expiry == nil {
			return "valid, no expiry"
		}
		return "valid until " + s.Expiry.Local().Format(time.RFC3339)
	case "expired-refreshable":
		return "expired, refreshable"
	case "expired":
		if s.login != "" {
			return "expired: run " + s.login // as --help spells it
		}
		return "expired: run auth login"
	}
	return "logged out"
}

// profileRow is one line of `auth profiles`. Source is the file the
// profile is defined in (its section is its name): the profiles file, or
// the Databricks CLI config file.
type profileRow struct {
	Name     string      `json:"name"`
	Host     string      `json:"host"`
	ClientID string      `json:"client_id"`
	Default  bool        `json:"default"`
	Source   string      `json:"source"`
	Status   tokenStatus `json:"status"`
	Check    string      `json:"check,omitempty"`
	target   core.Target
	caCert   string
	problem  string
	login    string // what auth login takes for this profile
}

func (a *app) profilesCommand() *cobra.Command {
	var (
		output  string
		def     string
		check   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List profiles and the state of their logins",
		Long: `List the profiles of the config file with the state of each login, as
the STATUS column spells it: "valid until TIME" ("valid, no expiry"),
"expired, refreshable" (the next auth token refreshes it), "expired: run
auth login NAME" (no refresh token: log in again), or "logged out". In
JSON, status.state is valid, expired-refreshable, expired or logged-out.

--default NAME makes NAME the default profile (default_profile in
[settings] of the profiles file), the one commands use when nothing names
a host or profile; the first profile saved becomes the default.

With --databricks-config, the Databricks CLI profiles (auth_type =
databricks-cli) are listed too, after those of the profiles file, and a
SOURCE column says which file each comes from ("source" in JSON, always
set). A Databricks profile hidden by a profile of the same name in the
profiles file is not listed; a note on stderr says so (under "databricks
auth profiles" the Databricks section is listed and used instead, as the
Databricks tools read it), as for the sections
of that file that are no profiles (a personal access token, no auth_type…),
with the reason. Without --databricks-config, a note on stderr counts the
profiles of the Databricks CLI's own file ($DATABRICKS_CONFIG_FILE, else
~/.databrickscfg) left out, when it has some.

By default only the local cache is read: no network, so it never hangs.
With --check, every profile's token is fetched (refreshed if expired) from
its server in parallel, each within --timeout.`,
		Example: `  auth profiles
  auth profiles -o json
  auth profiles --check --timeout 3s
  auth profiles --default work
  auth profiles --databricks-config ~/.databrickscfg`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			output, err := a.outputFormat(output, "table", "json")
			if err != nil {
				return err
			}
			f, err := a.configFile()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("default") {
				return a.setDefault(f, def)
			}
			for _, sk := range f.Skipped() {
				fmt.Fprintf(a.stderr, "Note: [%s] of %s is not listed: %s\n", core.Sanitize(sk.Name), f.DatabricksPath, oneLine(sk.Why))
			}
			a.noteDatabricksProfiles(f)
			o, err := a.options(core.Target{}, "")
			if err != nil {
				return err
			}
			rows := a.profileRows(f, o.Store)
			if check {
				a.checkProfiles(rows, timeout)
			}
			if output == "json" {
				if rows == nil {
					rows = []profileRow{}
				}
				b, _ := json.MarshalIndent(rows, "", "  ")
				_, err := fmt.Fprintf(a.stdout, "%s\n", b)
				return err
			}
			if len(rows) == 0 {
				if a.databricksList {
					fmt.Fprintf(a.stderr, "No profiles in %s: add a section [NAME] with its host and auth_type = databricks-cli (auth reads that file, never writes it), then log in with --profile NAME\n", f.DatabricksPath)
					return nil
				}
				where := f.Path
				if f.DatabricksPath != "" {
					where += " or " + f.DatabricksPath
				}
				fmt.Fprintf(a.stderr, "No profiles in %s: run `auth login --profile NAME HOST`\n", where)
				return nil
			}
			for _, p := range f.Profiles() {
				if h, ok := f.Hides(p.Name); ok && p.Origin == "" {
					fmt.Fprintf(a.stderr, "Note: profile %s of %s hides %s\n", p.Name, f.Path, h.Origin)
				}
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			sources := f.DatabricksPath != ""
			header := "NAME\tHOST\tCLIENT\tSTATUS"
			if sources {
				header += "\tSOURCE"
			}
			fmt.Fprintln(tw, header)
			for _, r := range rows {
				name := r.Name
				if r.Default {
					name += " (default)"
				}
				status := r.Status.String()
				if r.problem != "" {
					status = r.problem
				}
				if r.Check != "" {
					status = r.Check
				}
				// Every cell comes from a file or a server (S37).
				cells := []string{name, r.Host, r.ClientID, status}
				if sources {
					cells = append(cells, r.Source)
				}
				for i, c := range cells {
					cells[i] = core.Sanitize(c)
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table (or text) or json")
	cmd.Flags().StringVar(&def, "default", "", "make profile NAME the default (saved in the profiles file) and list nothing")
	cmd.Flags().BoolVar(&check, "check", false, "ask each server for a valid token (refreshing expired ones), in parallel")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "with --check: how long to wait for each server")
	return cmd
}

// profileRows reads each profile's login from the cache, offline.
func (a *app) profileRows(f *config.File, store native.Store) []profileRow {
	var rows []profileRow
	now := time.Now()
	def := f.Default()
	for _, p := range f.Selectable() { // under the Databricks forms, that file's only
		r := profileRow{Name: p.Name, Host: p.Host, ClientID: p.ClientID, Default: p.Name == def, caCert: p.CACert, Source: f.Path, login: profileLogin(p, f)}
		if p.Origin != "" {
			r.Source = f.DatabricksPath
		}
		host, err := core.NormalizeHost(p.Host)
		if err != nil {
			r.problem = "invalid host: " + err.Error()
			rows = append(rows, r)
			continue
		}
		r.Host, r.target = host, core.Target{Host: host, AccountID: p.AccountID}
		if r.ClientID == "" {
			if id, err := native.ResolveClientID(store, r.target, ""); err == nil {
				r.ClientID = id
			}
		}
		var entry *core.Entry
		if r.ClientID != "" {
			_, entry, err = store.Load(core.IssuerKeys(r.target, r.ClientID))
			if err != nil {
				r.problem = "cache: " + err.Error()
			}
		}
		r.Status = statusOf(entry, now)
		r.Status.login = r.login
		rows = append(rows, r)
	}
	return rows
}

// checkProfiles gets a valid token for every logged-in profile, in
// parallel, each bounded by timeout.
func (a *app) checkProfiles(rows []profileRow, timeout time.Duration) {
	var wg sync.WaitGroup
	for i := range rows {
		r := &rows[i]
		if r.problem != "" || r.Status.State == "logged-out" || r.Status.State == "expired" {
			r.Check = r.Status.String()
			if r.problem != "" {
				r.Check = r.problem
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			// A store of its own: locks and keyring state are per store.
			opts, err := a.options(r.target, r.ClientID)
			if err != nil {
				r.Check = "error: " + oneLine(err.Error())
				return
			}
			opts.Warn = func(string) {}
			opts.HTTPOptions.Timeout = timeout
			if r.caCert != "" && opts.HTTPOptions.CACertFile == "" {
				opts.HTTPOptions.CACertFile = r.caCert
			}
			e, err := native.Token(ctx, native.TokenOptions{Options: opts})
			if lr := (*core.LoginRequiredError)(nil); errors.As(err, &lr) {
				lr.Login = r.login // log in again by the profile's name
			}
			if err != nil {
				r.Check = "error: " + oneLine(err.Error())
				return
			}
			r.Status = statusOf(e, time.Now())
			r.Check = "ok, " + r.Status.String()
		}()
	}
	wg.Wait()
}

// setDefault makes name the default profile of the profiles file.
func (a *app) setDefault(f *config.File, name string) error {
	if strings.TrimSpace(name) == "" {
		return usagef("--default needs a profile name (`auth profiles` lists them)")
	}
	p, ok := f.Profile(name)
	if !ok {
		return usageError{f.UnknownProfile(name, "", a.getenv)}
	}
	f.SetDefault(name)
	if err := f.Save(); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Default profile: %s (default_profile in %s)\n", oneLine(name), f.Path)
	if p.Origin != "" {
		fmt.Fprintf(a.stderr, "Note: %s\n", oneLine(fmt.Sprintf("profile %s is read from %s: it is found only when --databricks-config (or $DUALAUTH_DATABRICKS_CONFIG) names that file", name, p.Origin)))
	}
	return nil
}

// noteDatabricksProfiles says, without --databricks-config, how many
// profiles the Databricks CLI's own config file has that this list leaves
// out: one stat when there is no such file, read only when there is.
func (a *app) noteDatabricksProfiles(f *config.File) {
	if f.DatabricksPath != "" {
		return // in use: listed
	}
	path := a.databricksConfig()
	if path == "" {
		return
	}
	ps, _, err := config.ScanDatabricks(path)
	if err != nil || len(ps) == 0 {
		return // nothing auth could list there (an unreadable file is for --databricks-config to report)
	}
	what, them := "profiles", "them"
	if len(ps) == 1 {
		what, them = "profile", "it"
	}
	fmt.Fprintf(a.stderr, "Note: %d Databricks CLI %s in %s: add --databricks-config %s to list %s\n", len(ps), what, path, path, them)
}
