# One recipe per mcpauth command: `just oauth-list-tokens --user alice`
# runs `mcpauth oauth-list-tokens --user alice`. The commands run in the
# directory just was called from ([no-cd]), so that
# `just --justfile ~/mcpauth/justfile doctor` in the gateway's directory reads
# that directory's .env, as `mcpauth doctor` there would.
set positional-arguments

mcpauth := quote(justfile_directory() / "bin" / "run.js")

# list the recipes
default:
    @just --justfile {{quote(justfile())}} --list

# install dependencies and build
install:
    npm install

# run the test suite (needs redis-server on PATH)
test:
    npm test

[no-cd]
oauth-list-tokens *args:
    @{{mcpauth}} oauth-list-tokens "$@"

[no-cd]
oauth-list-registrations *args:
    @{{mcpauth}} oauth-list-registrations "$@"

[no-cd]
oauth-stats *args:
    @{{mcpauth}} oauth-stats "$@"

[no-cd]
oauth-delete-token *args:
    @{{mcpauth}} oauth-delete-token "$@"

[no-cd]
oauth-delete-registration *args:
    @{{mcpauth}} oauth-delete-registration "$@"

[no-cd]
oauth-delete-client-complete *args:
    @{{mcpauth}} oauth-delete-client-complete "$@"

[no-cd]
oauth-revoke-user *args:
    @{{mcpauth}} oauth-revoke-user "$@"

[no-cd]
oauth-purge-expired *args:
    @{{mcpauth}} oauth-purge-expired "$@"

[no-cd]
generate-jwt-secret *args:
    @{{mcpauth}} generate-jwt-secret "$@"

[no-cd]
generate-rsa-keys *args:
    @{{mcpauth}} generate-rsa-keys "$@"

[no-cd]
generate-all-secrets *args:
    @{{mcpauth}} generate-all-secrets "$@"

[no-cd]
check-token-expiry *args:
    @{{mcpauth}} check-token-expiry "$@"

[no-cd]
validate-tokens *args:
    @{{mcpauth}} validate-tokens "$@"

[no-cd]
mcp-client-token *args:
    @{{mcpauth}} mcp-client-token "$@"

[no-cd]
doctor *args:
    @{{mcpauth}} doctor "$@"

[no-cd]
oauth-backup *args:
    @{{mcpauth}} oauth-backup "$@"

[no-cd]
oauth-restore *args:
    @{{mcpauth}} oauth-restore "$@"

[no-cd]
oauth-backup-list *args:
    @{{mcpauth}} oauth-backup-list "$@"

[no-cd]
generate-github-token *args:
    @{{mcpauth}} generate-github-token "$@"

[no-cd]
refresh-tokens *args:
    @{{mcpauth}} refresh-tokens "$@"

[no-cd]
mcp-config *args:
    @{{mcpauth}} mcp-config "$@"

[no-cd]
mcp-headers *args:
    @{{mcpauth}} mcp-headers "$@"
