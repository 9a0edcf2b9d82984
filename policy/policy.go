package policy

// Policy is a loaded, validated and defaulted .ensign.yaml. Values come from
// Load; a Policy built by hand is not validated.
type Policy struct {
	// Commands overrides command permissions by command name; commands not
	// listed keep DefaultPermissions.
	Commands map[string]Permission
}
