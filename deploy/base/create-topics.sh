#!/usr/bin/env bash
# Creates orderflow's topics if they do not exist (idempotent). Runs in the apache/kafka
# image: docker-compose.yml's `topics` job and the Kubernetes Job `orderflow-topics`.
#
#   BOOTSTRAP_SERVERS   host:port of the broker (required)
#   TOPICS              "name:partitions ..." (required; rendered by orderflow_devinfra.compose)
#   TOPIC_NAMESPACE     prefix of every topic name (default: none)
#   REPLICATION_FACTOR  default 1
#   KAFKA_BIN           folder of kafka-topics.sh (default /opt/kafka/bin)
#   WAIT_ATTEMPTS       tries, 2 s apart, until the broker answers (default 60)
set -euo pipefail

: "${BOOTSTRAP_SERVERS:?BOOTSTRAP_SERVERS is required}"
: "${TOPICS:?TOPICS is required}"
namespace=${TOPIC_NAMESPACE:-}
replication=${REPLICATION_FACTOR:-1}
kafka_topics="${KAFKA_BIN:-/opt/kafka/bin}/kafka-topics.sh"
attempts=${WAIT_ATTEMPTS:-60}

attempt=1
until "$kafka_topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --list >/dev/null; do
    if [ "$attempt" -ge "$attempts" ]; then
        echo "create-topics: no broker at $BOOTSTRAP_SERVERS after $attempts attempts" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
done

for spec in $TOPICS; do
    name=${spec%:*}
    partitions=${spec##*:}
    case $partitions in
        '' | *[!0-9]*)
            echo "create-topics: bad entry '$spec' (want name:partitions)" >&2
            exit 2
            ;;
    esac
    "$kafka_topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
        --topic "$namespace$name" --partitions "$partitions" \
        --replication-factor "$replication"
done
echo "create-topics: $(echo "$TOPICS" | wc -w) topics present (namespace '$namespace')"
