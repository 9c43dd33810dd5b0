#!/bin/sh
# A "server" that answers one request: it waits for the client's probe, then answers.
set -eu
testrium emit server-ready
testrium wait request-sent --unit client --timeout 10
testrium emit request-received --type Receive --key "req-001" --meta bytes=42
echo "server: handled req-001"
testrium emit response-sent --type Send --key "resp-001"
