#!/bin/sh
# Waits for the writer's probe, then reads the value back and records it.
set -eu
testrium wait value-stored --unit writer --timeout 20
value="$(redis-cli -p "$TESTRIUM_REDIS_PORT_REDIS" GET greeting)"
[ "$value" = "hello through redis" ] || { echo "read back: '$value'" >&2; exit 1; }
testrium emit value-read --type Receive --key greeting --meta "value=$value"
