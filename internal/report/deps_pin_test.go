package report

// The schema validator is only used by tests in internal/sentryevent; this
// import keeps it in go.mod until that package exists.
import _ "github.com/santhosh-tekuri/jsonschema/v6"
