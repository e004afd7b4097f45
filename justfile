# One recipe per mcpauth command: `just oauth-list-tokens --user alice`
# runs `mcpauth oauth-list-tokens --user alice`.
set positional-arguments

mcpauth := justfile_directory() + "/bin/run.js"

# list the recipes
default:
    @just --list

# install dependencies and build
install:
    npm install

# run the test suite (needs redis-server on PATH)
test:
    npm test

oauth-list-tokens *args:
    @{{mcpauth}} oauth-list-tokens "$@"

oauth-list-registrations *args:
    @{{mcpauth}} oauth-list-registrations "$@"

oauth-stats *args:
    @{{mcpauth}} oauth-stats "$@"

oauth-delete-token *args:
    @{{mcpauth}} oauth-delete-token "$@"

oauth-delete-registration *args:
    @{{mcpauth}} oauth-delete-registration "$@"

oauth-delete-client-complete *args:
    @{{mcpauth}} oauth-delete-client-complete "$@"

oauth-revoke-user *args:
    @{{mcpauth}} oauth-revoke-user "$@"

oauth-purge-expired *args:
    @{{mcpauth}} oauth-purge-expired "$@"

generate-jwt-secret *args:
    @{{mcpauth}} generate-jwt-secret "$@"

generate-rsa-keys *args:
    @{{mcpauth}} generate-rsa-keys "$@"

generate-all-secrets *args:
    @{{mcpauth}} generate-all-secrets "$@"

check-token-expiry *args:
    @{{mcpauth}} check-token-expiry "$@"

validate-tokens *args:
    @{{mcpauth}} validate-tokens "$@"

mcp-client-token *args:
    @{{mcpauth}} mcp-client-token "$@"

doctor *args:
    @{{mcpauth}} doctor "$@"

oauth-backup *args:
    @{{mcpauth}} oauth-backup "$@"

oauth-restore *args:
    @{{mcpauth}} oauth-restore "$@"

oauth-backup-list *args:
    @{{mcpauth}} oauth-backup-list "$@"

generate-github-token *args:
    @{{mcpauth}} generate-github-token "$@"

refresh-tokens *args:
    @{{mcpauth}} refresh-tokens "$@"

mcp-config *args:
    @{{mcpauth}} mcp-config "$@"

mcp-headers *args:
    @{{mcpauth}} mcp-headers "$@"
