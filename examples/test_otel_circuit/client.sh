#!/bin/sh
# Places $ORDERS orders. Each request carries a W3C traceparent whose span context
# (<trace id>-<span id>) is the key of the client's probes: the service's SERVER span is
# received under that key.
set -eu
port="$TESTRIUM_ORDERS_PORT_HTTP"
i=1
while [ "$i" -le "$ORDERS" ]; do
    trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    span=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    key="$trace-$span"
    testrium emit order-sent --type Send --key "$key"
    answer=$(curl -sS -X POST "http://127.0.0.1:$port/orders" \
        -H "traceparent: 00-$trace-$span-01" \
        -H "Content-Type: application/json" \
        -d "{\"id\": \"order-$i\", \"items\": $i}")
    case "$answer" in
        *'"stored": true'*) testrium emit order-confirmed --key "$key" ;;
        *) echo "order-$i not stored: $answer" >&2 ;;
    esac
    i=$((i + 1))
done
