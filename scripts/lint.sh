#!/usr/bin/env bash
# Static checks over src/ (`make lint`):
#   1. calls that have no bound or no error report are banned: strcpy,
#      strcat, sprintf, vsprintf (use snprintf, buf_*, memcpy with a checked
#      length), atoi, atol, atoll (use strtol and check end and errno),
#      strtok (not reentrant; use strtok_r or a manual scan), gets;
#   2. cppcheck, warnings and portability; inline suppressions allowed
#      (// cppcheck-suppress id), with a comment saying why.
# Prints file:line for each finding and exits non-zero if there is any.
set -euo pipefail

cd "$(dirname "$0")/.."

status=0

# Comments and string literals are blanked first (newlines kept, so line
# numbers hold): a comment explaining why strcpy is banned is not a call.
banned=$(find src -name '*.[ch]' -print0 | sort -z | xargs -0 -r perl -e '
	my $bad = qr/\b(strcpy|strcat|sprintf|vsprintf|atoi|atol|atoll|strtok|gets)\s*\(/;
	for my $file (@ARGV) {
		open(my $fh, "<", $file) or die "$file: $!\n";
		local $/;
		my $src = <$fh>;
		close($fh);
		$src =~ s{
			  /\*.*?\*/
			| //[^\n]*
			| "(?:\\.|[^"\\\n])*"
			| \x27(?:\\.|[^\x27\\\n])*\x27
		}{ (my $m = $&) =~ s/[^\n]/ /g; $m }gsex;
		my $n = 0;
		for my $line (split /\n/, $src, -1) {
			$n++;
			while ($line =~ /$bad/g) {
				print "$file:$n: banned call $1()\n";
			}
		}
	}
')
if [ -n "$banned" ]; then
  echo "$banned"
  echo "lint: banned calls found (see scripts/lint.sh for the alternatives)" >&2
  status=1
fi

if ! command -v cppcheck >/dev/null 2>&1; then
  echo "lint: installing cppcheck" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends cppcheck >/dev/null
fi
if ! cppcheck --enable=warning,portability --error-exitcode=1 --inline-suppr -q \
     -Isrc --suppress=missingIncludeSystem src/; then
  echo "lint: cppcheck found problems" >&2
  status=1
fi

[ "$status" -eq 0 ] && echo "lint: ok" >&2
exit "$status"
