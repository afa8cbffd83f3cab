#!/usr/bin/env bash
# Checks the container image as the production reference runs it: builds it, then runs
# the migrations, two app servers (gunicorn) and two workers (one with the schedule),
# each a container of the image, on this machine's PostgreSQL and Redis and a local
# S3 server (moto, from the test tools); imports an invoice with its PDF through one
# server and finds it in the bucket; asks both servers' /readyz; fails on a traceback
# in any container's output. Needs docker and scripts/setup.sh --test; not part of
# `make test` (a fresh machine has no docker).
#   BASE=python:3.11-slim-bookworm scripts/container_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
image=guichet:check
prefix=guichet-check
database=guichet_container_check
bucket=guichet-check
s3_port=5910
redis_url=redis://127.0.0.1:6379/9

docker build -q --build-arg BASE="${BASE:-python:3.11-slim-bookworm}" -t "$image" . >/dev/null
echo "image built: $(docker image inspect "$image" --format '{{.Size}}') bytes"

cleanup() {
  docker rm -f "$prefix-web1" "$prefix-web2" "$prefix-worker1" "$prefix-worker2" >/dev/null 2>&1 || true
  [[ -n "${moto:-}" ]] && kill "$moto" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $database" \
  -c "CREATE DATABASE $database" >/dev/null
.venv/bin/python -c "import redis; redis.Redis.from_url('$redis_url').flushdb()"
.venv/bin/moto_server -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
moto=$!
export AWS_ACCESS_KEY_ID=check AWS_SECRET_ACCESS_KEY=check
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$s3_port/moto-api/" >/dev/null && break; sleep 0.2; done
.venv/bin/python - <<PY
import boto3
boto3.client("s3", endpoint_url="http://127.0.0.1:$s3_port", region_name="eu-west-3").create_bucket(
    Bucket="$bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
PY

settings=(
  -e "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$database"
  -e "GUICHET_REDIS_URL=$redis_url"
  -e "GUICHET_SECRET_KEY=container-check"
  -e "GUICHET_PUBLIC_URL=http://localhost:8101"
  -e "GUICHET_STORAGE_URL=s3://$bucket/portal"
  -e "GUICHET_S3_ENDPOINT_URL=http://127.0.0.1:$s3_port"
  -e "GUICHET_S3_REGION=eu-west-3"
  -e "GUICHET_S3_ACCESS_KEY_ID=check"
  -e "GUICHET_S3_SECRET_ACCESS_KEY=check"
  -e 'GUICHET_ISSUER={"name": "Guichet SAS", "address": "1 rue du Test", "siret": "91234567800011", "vat_number": "FR74912345678"}'
)
run() { docker run --network host "${settings[@]}" "$@"; }

run --rm "$image" guichet db upgrade | tail -1
token=$(run --rm "$image" guichet token create container-check | tail -1)
run --rm "$image" guichet org create "Client 1" >/dev/null
run --rm "$image" guichet account create 1 00002501 >/dev/null
for n in 1 2; do
  run -d --name "$prefix-web$n" "$image" gunicorn -w 2 -b "127.0.0.1:810$n" wsgi:app >/dev/null
done
run -d --name "$prefix-worker1" "$image" guichet worker >/dev/null
run -d --name "$prefix-worker2" "$image" guichet worker --no-periodic >/dev/null

for n in 1 2; do
  for _ in $(seq 60); do curl -sf "http://localhost:810$n/readyz" >/dev/null && break; sleep 0.5; done
  echo "server $n: $(curl -s "http://localhost:810$n/readyz")"
done
echo "runs as: $(docker exec "$prefix-web1" id -un) (uid $(docker exec "$prefix-web1" id -u))"
.venv/bin/python - <<PY
import base64, boto3, requests
from tests.conftest import invoice_item, one_page_pdf
pdf = one_page_pdf("Facture importée dans un conteneur")
item = invoice_item("C-0001", pdf=base64.b64encode(pdf).decode())
answer = requests.post("http://localhost:8101/api/v1/invoices", json=[item],
                       headers={"Authorization": "Bearer $token"}, timeout=60)
assert answer.status_code == 200 and answer.json()["created"] == ["C-0001"], answer.text
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$s3_port", region_name="eu-west-3")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="$bucket")["Contents"]]
assert any(k.startswith("portal/stored/") for k in keys), keys
print("an invoice imported through server 1: its PDF is in the bucket:", keys)
PY
sleep 3  # the workers render the PDFs the import queued
for name in web1 web2 worker1 worker2; do
  if docker logs "$prefix-$name" 2>&1 | grep -q Traceback; then
    docker logs "$prefix-$name" 2>&1 | tail -40
    echo "a traceback in $name" >&2
    exit 1
  fi
done
echo "container check: passed"
