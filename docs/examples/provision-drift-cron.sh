#!/bin/sh
# Nightly drift check from cron; mails the report when authentik differs from the spec.
#
#   17 3 * * * /usr/local/bin/provision-drift-cron /etc/provision/authentik.yaml
#
# /etc/provision/env (mode 600) sets AUTHENTIK_URL, AUTHENTIK_TOKEN and the spec's
# !env variables. Exit status: that of `provision drift` (0 none, 2 drift, 1 error).
set -u
SPEC="${1:?usage: provision-drift-cron SPEC}"
MAIL_TO="${PROVISION_MAIL_TO:-root}"

set -a
. /etc/provision/env
set +a

REPORT="$(mktemp)"
trap 'rm -f "$REPORT"' EXIT
provision drift "$SPEC" --no-color >"$REPORT" 2>&1
status=$?

case "$status" in
    0) ;;
    2) mail -s "authentik drift: $SPEC" "$MAIL_TO" <"$REPORT" ;;
    *) mail -s "provision drift failed (exit $status): $SPEC" "$MAIL_TO" <"$REPORT" ;;
esac
exit "$status"
